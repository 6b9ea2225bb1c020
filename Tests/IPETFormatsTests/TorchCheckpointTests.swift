import Foundation
import IPETFormats
import IPETTestSupport
import XCTest

/// The PyTorch checkpoint reader against files written by torch 2.13 `torch.save` (Fixtures/torch, made by
/// tools/make_torch_fixtures.py from the committed safetensors fixtures).
final class TorchCheckpointTests: XCTestCase {
    private func checkpoint(_ relative: String, options: TorchCheckpoint.Options = .init()) throws -> TorchCheckpoint {
        try TorchCheckpoint(path: Fixtures.path("torch/" + relative), options: options)
    }

    private func expectations(_ file: String) throws -> [(key: String, value: JSONValue)] {
        try XCTUnwrap(JSONFile.read(Fixtures.path("torch/tensors.json"))[file]?.object, file)
    }

    /// Every tensor equals the safetensors original exactly: names in order, dtype, shape, bytes and values.
    private func assertSameTensors(_ torch: TorchCheckpoint, _ original: SafeTensorsFile, file: StaticString = #filePath,
                                   line: UInt = #line) throws {
        XCTAssertEqual(torch.tensorNames, original.tensorNames, file: file, line: line)
        for info in original.tensors {
            let t = try XCTUnwrap(torch.info(info.name), info.name, file: file, line: line)
            XCTAssertEqual(t.dtype, info.dtype, info.name, file: file, line: line)
            XCTAssertEqual(t.shape, info.shape, info.name, file: file, line: line)
            XCTAssertTrue(t.isContiguous, info.name, file: file, line: line)
            XCTAssertEqual(Array(try torch.rawBytes(t)), Array(original.rawBytes(info)), info.name, file: file, line: line)
            XCTAssertEqual(try torch.floats(info.name), try original.floats(info.name), info.name, file: file, line: line)
        }
    }

    func testPytorchModelBinEqualsTheSafetensorsOriginal() throws {
        let bin = try checkpoint("pytorch_model.bin")
        XCTAssertEqual(bin.stateDictPath, [])
        XCTAssertEqual(bin.recordPrefix, "pytorch_model/")
        XCTAssertEqual(bin.archive?.isZip64, true)
        XCTAssertFalse(bin.isLegacy)
        XCTAssertEqual(bin.tensors.count, 43)
        try assertSameTensors(bin, Fixtures.safetensors("ast/tiny-a/model.safetensors"))
    }

    func testWav2Vec2BinEqualsTheSafetensorsOriginal() throws {
        try assertSameTensors(checkpoint("gn-postln.bin"), Fixtures.safetensors("wav2vec2/gn-postln/model.safetensors"))
    }

    func testContiguousTensorsAreZeroCopyViewsOfTheMappedFile() throws {
        let bin = try checkpoint("pytorch_model.bin")
        let whole = try XCTUnwrap(bin.archive).allBytes
        for t in bin.tensors where t.elementCount > 0 {
            let raw = try bin.rawBytes(t)
            let offset = raw.baseAddress! - whole.baseAddress!
            XCTAssertEqual(offset, t.byteRange!.lowerBound, t.name)
            XCTAssertEqual(raw.count, t.byteCount, t.name)
            XCTAssertTrue(t.storageRange.contains(offset), t.name)
        }
    }

    func testNestedCheckpointFindsTheModelAndStripsModulePrefix() throws {
        let nested = try checkpoint("nested.pth")
        XCTAssertEqual(nested.stateDictPath, ["model"])
        let original = try Fixtures.safetensors("wav2vec2/gn-postln/model.safetensors")
        try assertSameTensors(nested, original)
        for t in nested.tensors {
            XCTAssertEqual(t.originalName, "module." + t.name)
            XCTAssertEqual(t.isParameter, t.name.hasSuffix("weight"), t.name)
        }
        XCTAssertEqual(nested.root["epoch"], .int(3))
        XCTAssertEqual(nested.root["best_metric"], .float(0.8125))
        XCTAssertEqual(nested.root["args"]?["tags"], .list([.string("a"), .string("b")]))
        let groups = try XCTUnwrap(nested.root["optimizer"]?["param_groups"])
        guard case let .list(list) = groups, case let .dict(group)? = list.first else { return XCTFail("param_groups") }
        XCTAssertEqual(group["betas"], .tuple([.float(0.9), .float(0.999)]))
        // Optimizer state is keyed by int.
        guard case let .dict(state)? = nested.root["optimizer"]?["state"] else { return XCTFail("optimizer state") }
        XCTAssertEqual(state.entries.first?.key, .int(0))
    }

    func testExplicitStateDictPathAndPrefixKept() throws {
        let ema = try checkpoint("nested.pth", options: .init(stateDictPath: ["ema_partial"]))
        XCTAssertEqual(ema.tensors.count, 2)
        let raw = try checkpoint("nested.pth", options: .init(stripModulePrefix: false))
        XCTAssertTrue(raw.tensorNames.allSatisfy { $0.hasPrefix("module.") })
        XCTAssertThrowsError(try checkpoint("nested.pth", options: .init(stateDictPath: ["nope"]))) { error in
            XCTAssertTrue("\(error)".contains("no state dict at nope"), "\(error)")
        }
    }

    func testHalfPrecisionCheckpointConvertsExactly() throws {
        let f16 = try checkpoint("gn-postln-f16.pth")
        let original = try Fixtures.safetensors("wav2vec2/gn-postln/model.safetensors")
        XCTAssertEqual(f16.tensorNames, original.tensorNames)
        for info in original.tensors {
            let t = try XCTUnwrap(f16.info(info.name))
            XCTAssertEqual(t.dtype, .f16)
            XCTAssertEqual(t.byteCount * 2, info.byteCount)
            // torch's .half() rounds to nearest even, as HalfFloat.halfBits does.
            let expected = try original.floats(info.name).map { HalfFloat.float(fromHalfBits: HalfFloat.halfBits(from: $0)) }
            XCTAssertEqual(try f16.floats(info.name), expected, info.name)
        }
    }

    /// Strided views are kept as saved: no contiguous byte range, but `floats` gathers them in row-major order.
    /// A stride-0 view of 2^60 elements over one stored float is refused when the file is opened, by size, before
    /// anything of the declared size is allocated (small broadcast views, as in noncontig.pth, still read).
    func testHugeBroadcastViewsAreRefusedBySize() {
        XCTAssertThrowsError(try TorchCheckpoint(path: Fixtures.path("torch/broadcast-huge.pth"))) { error in
            XCTAssertTrue("\(error)".contains("broadcast view (stride 0) of 1152921504606846976 elements"), "\(error)")
            XCTAssertTrue("\(error)".contains("broadcast-huge.pth"), "\(error)")
        }
    }

    func testNonContiguousTensorsAreCopiedIntoRowMajorOrder() throws {
        let file = try checkpoint("noncontig.pth")
        let expected = try expectations("noncontig.pth")
        XCTAssertEqual(file.tensorNames, expected.map(\.key))
        for (name, e) in expected {
            let t = try XCTUnwrap(file.info(name))
            XCTAssertEqual(t.dtype.rawValue, e["dtype"]?.string, name)
            XCTAssertEqual(t.shape, e["shape"]?.array?.compactMap(\.int), name)
            XCTAssertEqual(t.strides, e["strides"]?.array?.compactMap(\.int), name)
            XCTAssertEqual(t.storageOffset, e["storage_offset"]?.int, name)
            XCTAssertEqual(t.isContiguous, e["contiguous"]?.bool, name)
            XCTAssertEqual(try file.floats(name), e["values"]?.array?.map { Float($0.double!) }, name)
            if t.isContiguous {
                XCTAssertEqual(try file.rawBytes(t).count, t.byteCount)
            } else {
                XCTAssertThrowsError(try file.rawBytes(t)) { error in
                    XCTAssertTrue("\(error)".contains("strided view"), "\(error)")
                }
            }
        }
    }

    func testEveryDtypeAndRebuildPath() throws {
        let file = try checkpoint("misc.pth")
        XCTAssertEqual(file.stateDictPath, ["state_dict"])
        let expected = try expectations("misc.pth")
        XCTAssertEqual(file.tensorNames, expected.map(\.key))
        for (name, e) in expected {
            let t = try XCTUnwrap(file.info(name))
            XCTAssertEqual(t.dtype.rawValue, e["dtype"]?.string, name)
            XCTAssertEqual(t.shape, e["shape"]?.array?.compactMap(\.int), name)
            XCTAssertEqual(t.strides, e["strides"]?.array?.compactMap(\.int), name)
            XCTAssertEqual(t.storageOffset, e["storage_offset"]?.int, name)
            XCTAssertEqual(t.requiresGrad, e["requires_grad"]?.bool, name)
            XCTAssertEqual(t.isParameter, e["parameter"]?.bool, name)
            let values = try XCTUnwrap(e["values"]?.array, name)
            if t.dtype.isFloatConvertible {
                XCTAssertEqual(try file.floats(name), values.map { Float($0.double!) }, name)
            } else {
                XCTAssertEqual(integers(file.contiguousBytes(t), t.dtype), values.map { Int64($0.int!) }, name)
                XCTAssertThrowsError(try file.floats(name))
            }
        }
        // Two views of one storage share its record.
        XCTAssertEqual(file.info("shared_head")?.storageKey, file.info("shared_tail")?.storageKey)
        let extras = try XCTUnwrap(file.root["extras"])
        XCTAssertEqual(extras["size"], .tuple([.int(2), .int(3)]))
        XCTAssertEqual(extras["set"], .set([.int(5)]))
        XCTAssertEqual(extras["bytes"], .bytes([0, 255, 97, 98]))
        XCTAssertEqual(extras["dtype"], .dtype(name: "float16", .f16))
        XCTAssertEqual(extras["none"], PickleValue.none)
    }

    func testProtocol4CheckpointWithStackGlobal() throws {
        let file = try checkpoint("protocol4.pth")
        for (name, e) in try expectations("protocol4.pth") {
            XCTAssertEqual(try file.floats(name), e["values"]?.array?.map { Float($0.double!) }, name)
        }
    }

    /// The legacy layout (torch.save before 1.6) is read by the same restricted machine: `legacy.pt` holds
    /// `{"a": torch.ones(2)}` (it used to be refused, and the importer misnamed it as a bad safetensors header).
    func testLegacyFormatIsReadWithTheSameMachine() throws {
        let legacy = try checkpoint("legacy.pt")
        XCTAssertTrue(legacy.isLegacy)
        XCTAssertNil(legacy.archive)
        XCTAssertEqual(legacy.tensorNames, ["a"])
        let a = try XCTUnwrap(legacy.info("a"))
        XCTAssertEqual(a.dtype, .f32)
        XCTAssertEqual(a.shape, [2])
        XCTAssertEqual(try legacy.floats("a"), [1, 1])
        XCTAssertEqual(Array(try legacy.rawBytes(a)), [0, 0, 0x80, 0x3F, 0, 0, 0x80, 0x3F])
    }

    func testBarePickleIsReadSafelyThenRefused() throws {
        XCTAssertThrowsError(try checkpoint("plain-p2.pkl")) { error in
            XCTAssertEqual((error as? TorchCheckpointError)?.problem, .barePickle)
        }
        let empty = Fixtures.temporaryDirectory().appendingPathComponent("empty.pth")
        XCTAssertTrue(FileManager.default.createFile(atPath: empty.path, contents: Data()))
        XCTAssertThrowsError(try TorchCheckpoint(path: empty.path)) { error in
            XCTAssertTrue("\(error)".contains("not a torch.save zip archive"), "\(error)")
        }
        XCTAssertThrowsError(try TorchCheckpoint(path: "/nonexistent/x.pth")) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/x.pth: cannot open"), "\(error)")
        }
    }

    func testCheckpointWithoutTensorsNamesItsKeys() throws {
        // A zip whose pickle is a dict of plain values.
        let pickle: [UInt8] = [0x80, 0x02, 0x7D, 0x58, 1, 0, 0, 0, 0x61, 0x4B, 1, 0x73, 0x2E]  // {'a': 1}
        let zip = TorchZipBuilder.archive([("ck/data.pkl", pickle)])
        XCTAssertThrowsError(try TorchCheckpoint.read(zip)) { error in
            XCTAssertTrue("\(error)".contains("no state dict found"), "\(error)")
            XCTAssertTrue("\(error)".contains("\"a\""), "\(error)")
        }
    }

    /// A size-1 dimension may carry any stride (torch ignores it); reading such a view must not overflow.
    func testHugeStrideOnASizeOneDimension() throws {
        let pickle = TorchPickleBytes.tensor(numel: 4, size: [1, 2, 1], stride: [Int(Int64.max), 2, Int(Int64.max) - 1])
        let storage: [UInt8] = [1.0, 2.0, 3.0, 4.0].flatMap { (v: Float) in withUnsafeBytes(of: v.bitPattern.littleEndian, Array.init) }
        let file = try TorchCheckpoint.read(TorchZipBuilder.archive([("ck/data.pkl", pickle), ("ck/data/0", storage)]))
        let t = try XCTUnwrap(file.info("w"))
        XCTAssertFalse(t.isContiguous)
        XCTAssertEqual(try file.floats("w"), [1, 3])
    }

    func testStorageRecordMustMatchItsDeclaredSize() throws {
        let pickle = TorchPickleBytes.tensor(numel: 4, size: [4], stride: [1])
        XCTAssertThrowsError(try TorchCheckpoint.read(TorchZipBuilder.archive([("ck/data.pkl", pickle), ("ck/data/0", [0, 0, 0])]))) {
            error in
            XCTAssertEqual((error as? TorchCheckpointError)?.problem, .storageSizeMismatch(record: "ck/data/0", declared: 16, actual: 3))
            XCTAssertEqual((error as? TorchCheckpointError)?.tensor, "w")
        }
        XCTAssertThrowsError(try TorchCheckpoint.read(TorchZipBuilder.archive([("ck/data.pkl", pickle)]))) { error in
            XCTAssertEqual((error as? TorchCheckpointError)?.problem, .missingStorage("ck/data/0"))
        }
    }

    private func integers(_ raw: [UInt8], _ dtype: DType) -> [Int64] {
        let width = dtype.byteWidth!
        return stride(from: 0, to: raw.count, by: width).map { i in
            var v: UInt64 = 0
            for b in (0..<width).reversed() { v = v << 8 | UInt64(raw[i + b]) }
            switch dtype {
            case .i64: return Int64(bitPattern: v)
            case .i32: return Int64(Int32(truncatingIfNeeded: v))
            case .i16: return Int64(Int16(truncatingIfNeeded: v))
            case .i8: return Int64(Int8(truncatingIfNeeded: v))
            default: return Int64(v)
            }
        }
    }
}

extension TorchCheckpoint {
    /// Reads an in-memory archive (the bytes are copied and kept alive by the returned checkpoint).
    static func read(_ bytes: [UInt8], options: Options = .init()) throws -> TorchCheckpoint {
        let owner = TorchTestBytes(bytes)
        return try TorchCheckpoint(bytes: owner.buffer, path: "<memory>", owner: owner, options: options)
    }
}

/// Heap bytes with a stable address, kept alive by whoever holds the box.
final class TorchTestBytes {
    let count: Int
    let pointer: UnsafeMutableRawBufferPointer

    init(_ bytes: [UInt8]) {
        count = bytes.count
        pointer = .allocate(byteCount: max(bytes.count, 1), alignment: 16)
        pointer.copyBytes(from: bytes)
    }

    var buffer: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(pointer)[0..<count]) }

    deinit { pointer.deallocate() }
}
