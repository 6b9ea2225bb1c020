import Foundation
import IPETFormats
import IPETTestSupport
import XCTest

/// The content digest files we write carry (`Formats/safetensors.md` §4): every field it promises to cover changes
/// it, layout does not, and the Python reference computes the same value.
final class ContentDigestTests: XCTestCase {
    private func digest(metadata: [(key: String, value: String)], _ tensors: [(String, String, [Int], [UInt8])]) -> String {
        ContentDigest.compute(metadata: metadata, names: tensors.map(\.0)) { i, hasher in
            let t = tensors[i]
            t.3.withUnsafeBytes { ContentDigest.hash(name: t.0, dtype: t.1, shape: t.2, bytes: $0, into: hasher) }
        }
    }

    func testEveryCoveredFieldChangesTheDigestAndOrderDoesNot() {
        let meta: [(key: String, value: String)] = [("format", "pt"), ("ipet.head", "{\"labels\":[\"a\"]}")]
        let a: (String, String, [Int], [UInt8]) = ("a.weight", "F32", [2, 1], [0, 0, 128, 63, 0, 0, 0, 64])
        let b: (String, String, [Int], [UInt8]) = ("b", "F16", [1], [0, 60])
        let base = digest(metadata: meta, [a, b])
        XCTAssertTrue(base.hasPrefix("sha256:") && base.count == 7 + 64, base)
        XCTAssertEqual(digest(metadata: meta.reversed(), [b, a]), base, "order of tensors and metadata does not matter")
        XCTAssertEqual(digest(metadata: meta + [(ContentDigest.metadataKey, "sha256:00")], [a, b]), base,
                       "the recorded digest is not part of what it covers")
        var flipped = a
        flipped.3[3] ^= 0x40  // one exponent bit
        let changes: [(String, String)] = [
            ("data bit", digest(metadata: meta, [flipped, b])),
            ("name", digest(metadata: meta, [("a.weighs", a.1, a.2, a.3), b])),
            ("dtype", digest(metadata: meta, [(a.0, "I32", a.2, a.3), b])),
            ("shape", digest(metadata: meta, [(a.0, a.1, [1, 2], a.3), b])),
            ("metadata value", digest(metadata: [("format", "pt"), ("ipet.head", "{\"labels\":[\"b\"]}")], [a, b])),
            ("metadata key added", digest(metadata: meta + [("x", "")], [a, b])),
            ("tensor removed", digest(metadata: meta, [a])),
            // Length prefixes: moving a byte from one field to the next is a different file.
            ("field boundary", digest(metadata: [("format", "p"), ("tipet.head", meta[1].value)], [a, b])),
        ]
        for (what, value) in changes { XCTAssertNotEqual(value, base, what) }
    }

    func testWriterRecordsADigestThatReadsBackAndABitFlipIsFound() throws {
        var writer = SafeTensorsWriter(metadata: [("format", "pt")], recordsContentDigest: true)
        writer.add(.init(name: "w", shape: [3], floats: [1, 2, 3]))
        writer.add(.init(name: "h", shape: [2], floats: [0.5, -1], as: .f16))
        let path = Fixtures.temporaryDirectory().appendingPathComponent("x.safetensors").path
        try writer.write(to: path)
        let file = try SafeTensorsFile(path: path)
        XCTAssertEqual(ContentDigest.check(file), .verified)

        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let w = try XCTUnwrap(file.info("w"))
        bytes[file.dataStart + w.begin + 3] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        guard case .mismatch = ContentDigest.check(try SafeTensorsFile(path: path)) else { return XCTFail("a flipped bit must be found") }
    }

    /// The fixture packs are written by the Python reference (`tools/ipet_reference.py`): the two implementations agree.
    func testPythonWrittenPacksVerify() throws {
        let folder = Fixtures.path("packs")
        let packs = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".ipet") }
        XCTAssertGreaterThanOrEqual(packs.count, 10)
        for name in packs {
            let file = try SafeTensorsFile(path: folder + "/" + name)
            XCTAssertEqual(ContentDigest.check(file), .verified, name)
        }
    }

    func testHDF5ContainerDigestIsTheSafetensorsBytesDigest() throws {
        let container = HDF5TensorContainer(metadata: [("format", "pt")], tensors: [
            .init(name: "a", shape: [2], values: [1, -2], dtype: .f16), .init(name: "b", shape: [1], values: [3]),
        ])
        var writer = SafeTensorsWriter(metadata: [("format", "pt")])
        writer.add(.init(name: "a", shape: [2], floats: [1, -2], as: .f16))
        writer.add(.init(name: "b", shape: [1], floats: [3]))
        let path = Fixtures.temporaryDirectory().appendingPathComponent("y.safetensors").path
        try writer.write(to: path)
        XCTAssertEqual(ContentDigest.compute(container), ContentDigest.compute(try SafeTensorsFile(path: path)))
    }
}
