import Foundation
import IPETFormats
import IPETTestSupport
import XCTest

/// The safetensors reader and writer against files written by the Python `safetensors` package and against the
/// committed corpus of malformed files (Fixtures/safetensors, made by tools/make_safetensors_fixtures.py).
final class SafeTensorsTests: XCTestCase {
    private func json(_ relative: String) throws -> JSONValue { try JSONFile.read(Fixtures.path(relative)) }

    private func bytes(hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var it = hex.utf8.makeIterator()
        while let hi = it.next(), let lo = it.next() {
            out.append(UInt8(String(decoding: [hi, lo], as: UTF8.self), radix: 16)!)
        }
        return out
    }

    private func expectedFloats(_ values: [JSONValue]) -> [Float] {
        values.map { v in
            if let s = v.string { return s.hasPrefix("-") ? -.infinity : (s == "nan" ? .nan : .infinity) }
            return Float(v.double!)
        }
    }

    func testReadsEveryDtypeWrittenByPython() throws {
        let file = try Fixtures.safetensors("safetensors/python/dtypes.safetensors")
        let expected = try json("safetensors/python/dtypes.json")
        XCTAssertEqual(file.metadataValue("format"), "pt")
        let tensors = expected["tensors"]!.array!
        XCTAssertEqual(file.tensors.map(\.name), tensors.map { $0["name"]!.string! })
        for t in tensors {
            let name = t["name"]!.string!
            let info = try XCTUnwrap(file.info(name))
            XCTAssertEqual(info.dtype.rawValue, t["dtype"]!.string!, name)
            XCTAssertEqual(info.shape, t["shape"]!.array!.map { $0.int! }, name)
            XCTAssertEqual(Array(file.rawBytes(info)), bytes(hex: t["data_hex"]!.string!), name)
            let values = t["values"]!.array!
            if info.dtype.isFloatConvertible {
                // Exact: F16/BF16 widen exactly; F64 values are listed rounded to float32.
                XCTAssertEqual(try file.floats(name), expectedFloats(values), name)
            } else {
                XCTAssertEqual(try file.integers(name), values.map { Int64($0.int!) }, name)
            }
        }
    }

    func testWriterOutputIsByteIdenticalToThePythonWriter() throws {
        let expected = try json("safetensors/python/writer-expected.json")
        var writer = SafeTensorsWriter(metadata: expected["metadata"]!.object!.map { ($0.key, $0.value.string!) })
        for t in expected["tensors"]!.array! {
            writer.add(.init(name: t["name"]!.string!, dtype: DType(rawValue: t["dtype"]!.string!)!,
                             shape: t["shape"]!.array!.map { $0.int! }, data: bytes(hex: t["data_hex"]!.string!)))
        }
        let ours = try writer.serialize()
        let theirs = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("safetensors/python/writer-expected.safetensors")))
        XCTAssertEqual(ours, [UInt8](theirs))
        // Optionally keep our output for tools/check_safetensors_with_python.py.
        if let dir = ProcessInfo.processInfo.environment["IPET_EXPORT_DIR"] {
            try writer.write(to: dir + "/writer-expected.safetensors")
            try FileManager.default.copyItem(atPath: Fixtures.path("safetensors/python/writer-expected.json"),
                                             toPath: dir + "/writer-expected.json")
        }
    }

    func testWriterRoundTripsFloatsInEveryStorageType() throws {
        let path = Fixtures.temporaryDirectory().appendingPathComponent("rt.safetensors").path
        let values: [Float] = [0, 1, -2.5, 0.1, 1e-3, 3.14159, 65504, -1e-7]
        var writer = SafeTensorsWriter(metadata: [("format", "pt"), ("note", "round trip")])
        writer.add(.init(name: "f32", shape: [2, 4], floats: values))
        writer.add(.init(name: "f16", shape: [8], floats: values, as: .f16))
        writer.add(.init(name: "bf16", shape: [8], floats: values, as: .bf16))
        writer.add(.init(name: "empty", shape: [0, 3], floats: []))
        writer.add(.init(name: "scalar", shape: [], floats: [7]))
        try writer.write(to: path)
        let file = try SafeTensorsFile(path: path)
        XCTAssertEqual(file.metadataValue("note"), "round trip")
        XCTAssertEqual(try file.floats("f32"), values)
        XCTAssertEqual(try file.floats("f16"), values.map { HalfFloat.float(fromHalfBits: HalfFloat.halfBits(from: $0)) })
        XCTAssertEqual(try file.floats("bf16"), values.map { HalfFloat.float(fromBFloat16Bits: HalfFloat.bfloat16Bits(from: $0)) })
        XCTAssertEqual(file.info("empty")?.shape, [0, 3])
        XCTAssertEqual(try file.floats("scalar"), [7])
        // Every tensor starts aligned to its element size because the header is padded to 8 bytes.
        for t in file.tensors { XCTAssertEqual((file.dataStart + t.begin) % (t.dtype.byteWidth ?? 1), 0) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".tmp-\(getpid())"))
    }

    func testWriterRefusesReservedAndDuplicateNames() {
        var writer = SafeTensorsWriter()
        writer.add(.init(name: "__metadata__", shape: [1], floats: [1]))
        XCTAssertThrowsError(try writer.serialize()) { XCTAssertTrue("\($0)".contains("reserved")) }
        var dup = SafeTensorsWriter()
        dup.add(.init(name: "a", shape: [1], floats: [1]))
        dup.add(.init(name: "a", shape: [1], floats: [2]))
        XCTAssertThrowsError(try dup.serialize())
    }

    func testEveryMalformedFileIsRejectedWithItsReason() throws {
        let expected = try json("safetensors/malformed/expected.json")
        let cases = try XCTUnwrap(expected.object)
        XCTAssertGreaterThanOrEqual(cases.count, 25)
        for (file, spec) in cases {
            let path = Fixtures.path("safetensors/malformed/\(file)")
            let keyword = spec["keyword"]!.string!
            XCTAssertThrowsError(try SafeTensorsFile(path: path), file) { error in
                let text = "\(error)"
                XCTAssertTrue(text.hasPrefix(path), "\(file): message does not name the file: \(text)")
                XCTAssertTrue(text.lowercased().contains(keyword.lowercased()), "\(file): expected '\(keyword)' in: \(text)")
                XCTAssertFalse(text.contains("\n"), "\(file): message spans lines")
            }
        }
    }

    func testValidEdgeCasesAreAccepted() throws {
        let expected = try json("safetensors/valid-edge/expected.json")
        for (file, spec) in try XCTUnwrap(expected.object) {
            let st = try SafeTensorsFile(path: Fixtures.path("safetensors/valid-edge/\(file)"))
            let tensors = spec["tensors"]!.array!
            XCTAssertEqual(Set(st.tensorNames), Set(tensors.map { $0["name"]!.string! }), file)
            for t in tensors {
                let name = t["name"]!.string!
                XCTAssertEqual(st.info(name)?.shape, t["shape"]!.array!.map { $0.int! }, "\(file) \(name)")
                if let values = t["values"]?.array, st.info(name)!.dtype.isFloatConvertible {
                    XCTAssertEqual(try st.floats(name), expectedFloats(values), "\(file) \(name)")
                }
            }
            let metadata = spec["metadata"]?.object ?? []
            XCTAssertEqual(st.metadata.count, metadata.count, file)
            for (k, v) in metadata { XCTAssertEqual(st.metadataValue(k), v.string, "\(file) \(k)") }
        }
    }

    func testHugeDeclaredTensorIsRejectedBeforeAnythingIsAllocated() throws {
        // A 2^60-byte tensor in a tiny file: validation must fail on offsets alone (no allocation, no read).
        let header = #"{"w":{"dtype":"F32","shape":[288230376151711744],"data_offsets":[0,1152921504606846976]}}"#
        var blob = [UInt8](repeating: 0, count: 8)
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { blob.replaceSubrange(0..<8, with: $0) }
        blob += Array(header.utf8) + [1, 2, 3, 4]
        XCTAssertThrowsError(try blob.withUnsafeBytes { try SafeTensorsFile(bytes: $0, path: "huge", owner: nil) })
    }

    /// PackFuzz input (README "Fuzzing"): an empty tensor of shape [2^32, 2^31, 0] has 0 elements in 64 unsigned
    /// bits, but `shape.reduce(1, *)` overflows an Int on its first two sizes and trapped in `Tensor(zeros:)`.
    func testEmptyTensorWhoseSizesOverflowAnIntIsRejected() throws {
        func file(_ shape: String) throws -> SafeTensorsFile {
            let header = #"{"w":{"dtype":"F32","shape":"# + shape + #","data_offsets":[0,0]}}"#
            var blob = [UInt8](repeating: 0, count: 8)
            withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { blob.replaceSubrange(0..<8, with: $0) }
            blob += Array(header.utf8)
            return try blob.withUnsafeBytes { try SafeTensorsFile(bytes: $0, path: "empty.safetensors", owner: nil) }
        }
        for shape in ["[4294967296,2147483648,0]", "[0,4294967296,2147483648]"] {
            XCTAssertThrowsError(try file(shape), shape) { XCTAssertTrue("\($0)".contains("shape size overflows"), "\($0)") }
        }
        XCTAssertEqual(try file("[4294967296,2147483647,0]").tensors.first?.shape, [4_294_967_296, 2_147_483_647, 0])
    }
}
