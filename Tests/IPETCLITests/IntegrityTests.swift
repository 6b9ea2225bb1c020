import Foundation
import IPETFormats
import IPETTestSupport
import XCTest

/// Files `ipet` writes carry a content digest that every reader checks (`Formats/safetensors.md` §4): a damaged
/// pack, converted checkpoint or embedding file is refused by name instead of running with other numbers.
final class IntegrityTests: XCTestCase {
    private let demoBackbone = Fixtures.path("demo/backbone")

    /// A copy of `source` in a fresh folder.
    private func copy(_ source: String, as name: String) throws -> String {
        let path = Fixtures.temporaryDirectory().appendingPathComponent(name).path
        try FileManager.default.copyItem(atPath: source, toPath: path)
        return path
    }

    /// Flips `mask` in byte `index` of tensor `tensor`'s data.
    private func flip(_ path: String, tensor: String, byte index: Int, mask: UInt8) throws {
        let file = try SafeTensorsFile(path: path)
        let info = try XCTUnwrap(file.info(tensor))
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[file.dataStart + info.begin + index] ^= mask
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// The case: one exponent bit of a head bias (F16: the high byte) took accuracy from 94.7 % to 10 %.
    func testABitFlippedPackIsRefusedByEveryCommand() throws {
        let pack = try copy(Fixtures.path("demo/packs/keywords.ipet"), as: "keywords.ipet")
        try flip(pack, tensor: "head.linear.bias", byte: 1, mask: 0x40)
        for args in [["pack", "verify", pack, "--backbone", demoBackbone], ["pack", "inspect", pack], ["inspect", pack],
                     ["predict", "--backbone", demoBackbone, "--pack", pack, "--quiet", Fixtures.path("demo/clips/keywords")]] {
            let result = try CommandRunner.run(args)
            XCTAssertEqual(result.status, 1, "\(args): \(result.stdout)")
            XCTAssertTrue(result.stderr.hasPrefix("error: \(pack): the file is damaged"), "\(args): \(result.stderr)")
            XCTAssertTrue(result.stdout.isEmpty, "nothing is predicted with a damaged pack: \(result.stdout)")
        }
    }

    func testChangedMetadataIsRefused() throws {
        let pack = try copy(Fixtures.path("demo/packs/keywords.ipet"), as: "keywords.ipet")
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: pack)))
        // Swap two labels' first letters in the header: same length, still valid JSON, other class names.
        let text = String(decoding: bytes, as: UTF8.self)
        let range = try XCTUnwrap(text.range(of: "\\\"left\\\""))  // \"left\" inside the metadata's JSON string
        let at = text.utf8.distance(from: text.startIndex, to: range.lowerBound) + 2
        bytes[at] = UInt8(ascii: "r")  // "left" → "reft"
        try Data(bytes).write(to: URL(fileURLWithPath: pack))
        let result = try CommandRunner.run(["pack", "inspect", pack])
        XCTAssertEqual(result.status, 1, result.stdout)
        XCTAssertTrue(result.stderr.contains("damaged or was changed"), result.stderr)
    }

    /// Format 1.0 packs (no digest) still run, with a warning; a 1.1 pack without its digest is refused.
    func testOldPacksWarnAndNewPacksMustCarryTheDigest() throws {
        let source = try SafeTensorsFile(path: Fixtures.path("demo/packs/keywords.ipet"))
        func rewrite(version: String, name: String) throws -> String {
            var writer = SafeTensorsWriter(metadata: source.metadata.filter { $0.key != ContentDigest.metadataKey }
                .map { ($0.key, $0.key == "ipet.version" ? version : $0.value) })
            for info in source.tensors {
                writer.add(.init(name: info.name, dtype: info.dtype, shape: info.shape, data: Array(source.rawBytes(info))))
            }
            let path = Fixtures.temporaryDirectory().appendingPathComponent(name).path
            try writer.write(to: path)
            return path
        }
        let old = try rewrite(version: "1.0", name: "keywords.ipet")
        let verified = try CommandRunner.run(["pack", "verify", old, "--backbone", demoBackbone])
        XCTAssertEqual(verified.status, 0, verified.stderr)
        XCTAssertTrue(verified.stderr.contains("warning: \(old): pack format 1.0 records no content digest"), verified.stderr)
        let inspected = try CommandRunner.run(["pack", "inspect", old])
        XCTAssertTrue(inspected.stdout.contains("integrity:     not recorded (format 1.0)"), inspected.stdout)
        let predicted = try CommandRunner.run(["predict", "--backbone", demoBackbone, "--pack", old, "--quiet",
                                               Fixtures.path("demo/clips/keywords/down.flac")])
        XCTAssertEqual(predicted.status, 0, predicted.stderr)
        XCTAssertTrue(predicted.stderr.contains("records no content digest"), predicted.stderr)

        let missing = try rewrite(version: "1.1", name: "missing.ipet")
        let refused = try CommandRunner.run(["pack", "inspect", missing])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("pack format 1.1 requires ipet.content_sha256"), refused.stderr)
    }

    func testPackInspectShowsTheDigest() throws {
        let pack = Fixtures.path("demo/packs/keywords.ipet")
        let recorded = try XCTUnwrap(try SafeTensorsFile(path: pack).metadataValue(ContentDigest.metadataKey))
        let text = try CommandRunner.run(["pack", "inspect", pack])
        XCTAssertTrue(text.stdout.contains("integrity:     \(recorded) (content checked)"), text.stdout)
        let json = try CommandRunner.run(["pack", "inspect", pack, "--json"])
        XCTAssertEqual(try JSONParser.parse(json.stdout)["content_sha256"]?.string, recorded)
    }

    func testConvertedCheckpointsCarryADigestThatIsChecked() throws {
        let dir = Fixtures.temporaryDirectory()
        let out = dir.appendingPathComponent("tiny.safetensors").path
        let converted = try CommandRunner.run(["convert", Fixtures.path("ast/tiny-a"), out, "--dtype", "f16"])
        XCTAssertEqual(converted.status, 0, converted.stderr)
        XCTAssertEqual(ContentDigest.check(try SafeTensorsFile(path: out)), .verified)
        XCTAssertEqual(try CommandRunner.run(["inspect", out]).status, 0)
        try flip(out, tensor: "audio_spectrogram_transformer.layernorm.bias", byte: 1, mask: 0x40)
        let refused = try CommandRunner.run(["inspect", out])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.hasPrefix("error: \(out): the file is damaged"), refused.stderr)

        // The HDF5 container records the same digest; a container whose values changed under it is refused.
        let h5 = dir.appendingPathComponent("tiny.h5").path
        XCTAssertEqual(try CommandRunner.run(["convert", Fixtures.path("ast/tiny-a"), h5, "--to", "hdf5"]).status, 0)
        var container = try HDF5TensorContainer(path: h5)
        XCTAssertEqual(ContentDigest.check(container), .verified)
        var first = container.tensors[0].values
        first[0] += 1
        container.tensors[0] = .init(name: container.tensors[0].name, shape: container.tensors[0].shape, values: first)
        let damaged = dir.appendingPathComponent("damaged.h5").path
        try container.write(to: damaged)
        let result = try CommandRunner.run(["inspect", damaged])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("the file is damaged"), result.stderr)
    }

    func testEmbeddingFilesCarryADigestThatVerifyChecks() throws {
        let dir = Fixtures.temporaryDirectory()
        let out = dir.appendingPathComponent("emb.safetensors").path
        let clips = Fixtures.path("demo/clips/keywords")
        let embedded = try CommandRunner.run(["embed", "--backbone", demoBackbone, "-o", out, clips])
        XCTAssertEqual(embedded.status, 0, embedded.stderr)
        let file = try SafeTensorsFile(path: out)
        XCTAssertEqual(ContentDigest.check(file), .verified)
        let first = try XCTUnwrap(file.tensors.first?.name)
        try flip(out, tensor: first, byte: 3, mask: 0x01)
        let trials = dir.appendingPathComponent("trials.txt").path
        let names = file.tensors.map(\.name)
        try "1 \(names[0]) \(names[1])\n0 \(names[0]) \(names[2])\n".write(toFile: trials, atomically: true, encoding: .utf8)
        let result = try CommandRunner.run(["verify", "--trials", trials, "--embeddings", out])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("\(out): the file is damaged"), result.stderr)
    }
}
