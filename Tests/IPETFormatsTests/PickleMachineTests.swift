import Foundation
import IPETFormats
import IPETTestSupport
import XCTest

/// The restricted pickle machine: malicious fixtures are refused by name, plain data reads the same in every
/// protocol, and every resource bound holds. Hand-written pickles use CPython's opcode bytes (pickletools).
final class PickleMachineTests: XCTestCase {
    // MARK: malicious files

    func testMaliciousFixturesAreRefusedNamingTheGlobalOrOpcode() throws {
        let expected = try XCTUnwrap(JSONFile.read(Fixtures.path("torch/malicious/expected.json")).object)
        XCTAssertGreaterThanOrEqual(expected.count, 8)
        for (name, entry) in expected {
            let needle = try XCTUnwrap(entry["must_contain"]?.string, name)
            let path = Fixtures.path("torch/malicious/\(name)")
            if name.hasSuffix(".pkl") {
                let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
                XCTAssertThrowsError(try PickleMachine.unpickle(bytes), name) { error in
                    XCTAssertTrue("\(error)".contains(needle), "\(name): \(error)")
                }
            }
            // Through the checkpoint reader too (bare pickles are still read by the machine to be reported).
            XCTAssertThrowsError(try TorchCheckpoint(path: path), name) { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains(needle), "\(name): \(text)")
                XCTAssertTrue(text.hasPrefix(path), "\(name): \(text)")
                if name.hasSuffix(".pth") {
                    guard case .pickle? = (error as? TorchCheckpointError)?.problem else {
                        return XCTFail("\(name): \(text)")
                    }
                }
            }
        }
    }

    func testForbiddenGlobalsAreRefusedBeforeUse() throws {
        for (module, name) in [("os", "system"), ("posix", "system"), ("nt", "system"), ("builtins", "eval"),
                               ("__builtin__", "eval"), ("builtins", "exec"), ("builtins", "getattr"),
                               ("builtins", "__import__"), ("subprocess", "Popen"), ("torch.storage", "_load_from_bytes"),
                               ("torch", "load"), ("numpy.core.multiarray", "_reconstruct"), ("collections", "defaultdict"),
                               ("builtins", "slice"), ("torch", "device"), ("copyreg", "_reconstructor")] {
            // GLOBAL alone, never called: refused at once.
            let bytes = [0x80, 2] + global(module, name) + [0x2E]
            XCTAssertThrowsError(try PickleMachine.unpickle(bytes)) { error in
                XCTAssertEqual((error as? PickleError)?.problem, .forbiddenGlobal("\(module).\(name)"))
                XCTAssertEqual((error as? PickleError)?.offset, 2)
            }
            // STACK_GLOBAL the same.
            let stacked = [0x80, 4] + unicode(module) + unicode(name) + [0x93, 0x2E]
            XCTAssertThrowsError(try PickleMachine.unpickle(stacked)) { error in
                XCTAssertEqual((error as? PickleError)?.problem, .forbiddenGlobal("\(module).\(name)"))
            }
        }
        XCTAssertFalse(PickleGlobals.allowed.contains("torch.storage._load_from_bytes"))
        XCTAssertTrue(PickleGlobals.allowed.contains("torch._utils._rebuild_tensor_v2"))
    }

    func testUnsupportedTorchGlobalsSaySo() throws {
        XCTAssertThrowsError(try PickleMachine.unpickle([0x80, 2] + global("torch", "ComplexFloatStorage") + [0x2E])) { error in
            guard case .unsupported? = (error as? PickleError)?.problem else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try PickleMachine.unpickle([0x80, 2] + global("torch._utils", "_rebuild_qtensor") + [0x2E])) {
            error in
            guard case .unsupported? = (error as? PickleError)?.problem else { return XCTFail("\(error)") }
        }
    }

    func testCallsOnlyOnAllowlistedCallables() throws {
        // A storage class is allowed as a name but may not be called.
        assertProblem([0x80, 2] + global("torch", "FloatStorage") + [0x29, 0x52, 0x2E], contains: "REDUCE on torch.FloatStorage")
        // NEWOBJ only builds an OrderedDict.
        assertProblem([0x80, 2] + global("builtins", "set") + [0x29, 0x81, 0x2E], contains: "NEWOBJ on builtins.set")
        XCTAssertEqual(try PickleMachine.unpickle([0x80, 2] + global("collections", "OrderedDict") + [0x29, 0x81, 0x2E]),
                       .dict(PickleDict(entries: [], isOrdered: true)))
        // BUILD on a tensor-less plain dict or a list is refused.
        assertProblem([0x80, 2, 0x7D, 0x7D, 0x62, 0x2E], contains: "BUILD on a dict")
        // _codecs.encode only to latin1.
        assertProblem([0x80, 2] + global("_codecs", "encode") + unicode("x") + unicode("rot13") + [0x86, 0x52, 0x2E],
                      contains: "only latin1")
        // _rebuild_from_type_v2 with a non-tensor type.
        assertProblem([0x80, 2] + global("torch._tensor", "_rebuild_from_type_v2") + [0x28] + global("torch._utils", "_rebuild_tensor_v2")
                      + global("collections", "OrderedDict") + [0x29, 0x4E, 0x74, 0x52, 0x2E], contains: "with type collections.OrderedDict")
    }

    // MARK: plain data

    func testPlainValuesReadTheSameInEveryProtocol() throws {
        let expected = PickleValue.dict(PickleDict(entries: [
            .init(key: .string("int"), value: .int(7)),
            .init(key: .string("neg"), value: .int(-300000)),
            .init(key: .string("big"), value: .int(1 << 62)),
            .init(key: .string("negbig"), value: .int(Int64.min)),
            .init(key: .string("float"), value: .float(1.25)),
            .init(key: .string("str"), value: .string("h\u{e9}llo \u{2603}")),
            .init(key: .string("bytes"), value: .bytes([0, 255, 97, 98])),
            .init(key: .string("list"), value: .list([.int(1), .int(2), .list([.int(3)])])),
            .init(key: .string("tuple"), value: .tuple([.int(1), .string("a")])),
            .init(key: .string("none"), value: .none),
            .init(key: .string("bools"), value: .list([.bool(true), .bool(false)])),
            .init(key: .string("set"), value: .set([.int(1)])),
            .init(key: .string("frozenset"), value: .set([.int(2)])),
            .init(key: .string("nested"), value: .dict(PickleDict(entries: [
                .init(key: .string("k"), value: .dict(PickleDict(entries: [.init(key: .int(1), value: .string("v"))], isOrdered: false)))
            ], isOrdered: false))),
            .init(key: .string("empty"), value: .tuple([.tuple([]), .list([]), .dict(PickleDict(entries: [], isOrdered: false))])),
        ], isOrdered: false))
        for proto in [0, 2, 5] {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("torch/plain-p\(proto).pkl"))))
            XCTAssertEqual(try PickleMachine.unpickle(bytes), expected, "protocol \(proto)")
        }
    }

    func testProtocol0TextForms() throws {
        XCTAssertEqual(try PickleMachine.unpickle(Array("S'a\\x41\\n\\'b\\101'\n.".utf8)), .string("aA\n'bA"))
        XCTAssertEqual(try PickleMachine.unpickle(Array("V\\u00e9\\U0001F600x\n.".utf8)), .string("\u{e9}\u{1F600}x"))
        XCTAssertEqual(try PickleMachine.unpickle(Array("I-12\n.".utf8)), .int(-12))
        XCTAssertEqual(try PickleMachine.unpickle(Array("L123L\n.".utf8)), .int(123))
        XCTAssertEqual(try PickleMachine.unpickle(Array("F-0.5\n.".utf8)), .float(-0.5))
        XCTAssertEqual(try PickleMachine.unpickle(Array("(I1\nI2\nlp0\ng0\n0.".utf8)), .list([.int(1), .int(2)]))
        assertProblem(Array("I12x\n.".utf8), contains: "not a decimal integer")
        assertProblem(Array("I99999999999999999999\n.".utf8), contains: "64 bits")
        assertProblem(Array("S'abc\n.".utf8), contains: "not quoted")
        assertProblem(Array("I12".utf8), contains: "runs past the end")
    }

    func testDictionarySemantics() throws {
        // Python keeps the first position and the last value for a repeated key.
        let bytes: [UInt8] = [0x80, 2, 0x7D, 0x28] + unicode("a") + [0x4B, 1] + unicode("b") + [0x4B, 2] + unicode("a") + [0x4B, 3, 0x75, 0x2E]
        XCTAssertEqual(try PickleMachine.unpickle(bytes), .dict(PickleDict(entries: [
            .init(key: .string("a"), value: .int(3)), .init(key: .string("b"), value: .int(2)),
        ], isOrdered: false)))
        // Mutation after PUT is visible through GET, as with Python's shared objects.
        let shared: [UInt8] = [0x80, 2, 0x5D, 0x71, 0, 0x4B, 1, 0x61, 0x68, 0, 0x86, 0x2E]  // l=[]; l.append(1); (l, l)
        XCTAssertEqual(try PickleMachine.unpickle(shared), .tuple([.list([.int(1)]), .list([.int(1)])]))
        assertProblem([0x80, 2, 0x7D, 0x5D, 0x4E, 0x73, 0x2E], contains: "unhashable list")
    }

    // MARK: tensors

    func testTensorRebuildIsDescribedNotExecuted() throws {
        let value = try PickleMachine.unpickle(tensorPickle(numel: 12, offset: 2, size: [2, 3], stride: [1, 4]))
        let t = try XCTUnwrap(value["w"]?.tensor)
        XCTAssertEqual(t.storage, TorchStorageRef(key: "0", typeName: "FloatStorage", dtype: .f32, count: 12, location: "cpu"))
        XCTAssertEqual(t.storageOffset, 2)
        XCTAssertEqual(t.shape, [2, 3])
        XCTAssertEqual(t.strides, [1, 4])
        XCTAssertFalse(t.isContiguous)
        XCTAssertTrue(try XCTUnwrap(PickleMachine.unpickle(tensorPickle(numel: 6, size: [2, 3], stride: [3, 1]))["w"]?.tensor).isContiguous)
    }

    func testTensorViewsMustFitTheirStorage() throws {
        assertProblem(tensorPickle(numel: 4, size: [5], stride: [1]), contains: "reaches element 4 of storage 0, which holds 4")
        assertProblem(tensorPickle(numel: 12, offset: 3, size: [2, 3], stride: [1, 5]), contains: "reaches element 14")
        assertProblem(tensorPickle(numel: 4, size: [2], stride: [-1]), contains: "stride entry must be a non-negative integer")
        assertProblem(tensorPickle(numel: 4, size: [-2], stride: [1]), contains: "size entry must be a non-negative integer")
        assertProblem(tensorPickle(numel: 4, size: [2, 2], stride: [1]), contains: "2 sizes but 1 strides")
        assertProblem(tensorPickle(numel: 4, size: [Int(Int32.max), Int(Int32.max), Int(Int32.max)], stride: [0, 0, 0]),
                      contains: "overflows")
        assertProblem(tensorPickle(key: "../x", numel: 4, size: [1], stride: [1]), contains: "invalid storage key")
        assertProblem(tensorPickle(storageType: "UntypedStorage", numel: 8, size: [2], stride: [1]), contains: "untyped storage")
        // Empty tensors need no bytes.
        XCTAssertNotNil(try PickleMachine.unpickle(tensorPickle(numel: 0, size: [0, 3], stride: [3, 1]))["w"]?.tensor)
    }

    func testStorageKeysAgreeAcrossReferences() throws {
        // Two tensors naming storage "0" with different types.
        var bytes = tensorPickle(numel: 4, size: [1], stride: [1])
        bytes.removeLast(2)  // SETITEM, STOP
        bytes += [0x73]  // SETITEM "w"
        let second = tensorPickle(storageType: "HalfStorage", numel: 4, size: [1], stride: [1])
        bytes += second[3...]  // without PROTO and EMPTY_DICT: key "w"... then SETITEM, STOP
        assertProblem(bytes, contains: "storage 0 is declared twice")
    }

    // MARK: bounds

    func testDeepNestingIsRefused() throws {
        assertProblem([0x80, 2, 0x29] + Array(repeating: 0x85, count: 100) + [0x2E], contains: "nested deeper than 64")
        // Lists are nested through APPEND; the depth is checked when the value is copied out.
        let lists = [0x80, 2] + Array(repeating: UInt8(0x5D), count: 100) + Array(repeating: UInt8(0x61), count: 99) + [0x2E]
        assertProblem(lists, contains: "nested deeper than 64")
        var limits = PickleLimits()
        limits.maxDepth = 200
        XCTAssertNoThrow(try PickleMachine.unpickle(lists, limits: limits))
    }

    func testSelfReferenceIsRefused() throws {
        assertProblem([0x80, 2, 0x5D, 0x71, 0, 0x68, 0, 0x61, 0x2E], contains: "contains itself")
    }

    func testSharedReferencesCannotBlowUpTheOutput() throws {
        var bytes: [UInt8] = [0x80, 2, 0x5D, 0x71, 0]
        for i in 1...40 { bytes += [0x30, 0x5D, 0x28, 0x68, UInt8(i - 1), 0x68, UInt8(i - 1), 0x65, 0x71, UInt8(i)] }
        bytes += [0x2E]
        assertProblem(bytes, contains: "more than")
    }

    func testDeclaredLengthsAreCheckedBeforeReading() throws {
        assertProblem([0x80, 2, 0x58, 0xF0, 0xFF, 0xFF, 0xFF, 0x61, 0x62, 0x2E], contains: "BINUNICODE runs past the end")
        assertProblem([0x80, 4, 0x8E] + [UInt8](repeating: 0xFF, count: 7) + [0x7F, 0x2E], contains: "BINBYTES8 runs past the end")
        assertProblem([0x80, 4, 0x8D] + [UInt8](repeating: 0xFF, count: 8) + [0x2E], contains: "BINUNICODE8 runs past the end")
        assertProblem([0x80, 2, 0x8B, 0xFF, 0xFF, 0xFF, 0x7F, 0x2E], contains: "LONG4 runs past the end")
        assertProblem([0x80, 2, 0x8B, 0xFF, 0xFF, 0xFF, 0xFF, 0x2E], contains: "negative length")
        assertProblem([0x80, 4, 0x95] + [UInt8](repeating: 0xFF, count: 8) + [0x4E, 0x2E], contains: "FRAME runs past the end")
        assertProblem([0x80, 2, 0x54, 0xFF, 0xFF, 0xFF, 0xFF, 0x2E], contains: "negative length")
    }

    func testIntegers() throws {
        XCTAssertEqual(try PickleMachine.unpickle([0x80, 2, 0x8A, 9] + [UInt8](repeating: 0xFF, count: 9) + [0x2E]), .int(-1))
        XCTAssertEqual(try PickleMachine.unpickle([0x80, 2, 0x8A, 0, 0x2E]), .int(0))
        XCTAssertEqual(try PickleMachine.unpickle([0x80, 2, 0x4A, 0xFE, 0xFF, 0xFF, 0xFF, 0x2E]), .int(-2))
        XCTAssertEqual(try PickleMachine.unpickle([0x80, 2, 0x4D, 0x34, 0x12, 0x2E]), .int(0x1234))
        assertProblem([0x80, 2, 0x8A, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x2E], contains: "64 bits")
        assertProblem([0x80, 2, 0x8A, 8, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x8A, 9, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0x2E], contains: "64 bits")
    }

    func testMalformedStreams() throws {
        assertProblem([0x80, 2, 0x52, 0x2E], contains: "REDUCE needs more values")
        assertProblem([0x80, 2, 0x4E, 0x28, 0x85, 0x2E], contains: "TUPLE1 needs more values")  // may not reach below MARK
        assertProblem([0x80, 2, 0x68, 5, 0x2E], contains: "memo entry 5 was never stored")
        assertProblem([0x80, 2, 0x4E, 0x4E, 0x2E], contains: "2 values on the stack")
        assertProblem([0x80, 2, 0x28, 0x4E, 0x2E], contains: "unclosed MARK")
        assertProblem([0x80, 2, 0x4E, 0x2E, 0x4E], contains: "1 bytes after STOP")
        assertProblem([0x80, 2, 0x4E], contains: "ends without STOP")
        assertProblem([], contains: "ends without STOP")
        assertProblem([0x80, 2, 0xFF, 0x2E], contains: "unknown opcode 0xff")
        assertProblem([0x80, 6, 0x4E, 0x2E], contains: "protocol 6")
        assertProblem([0x80, 2, 0x58, 2, 0, 0, 0, 0xC3, 0x28, 0x2E], contains: "not valid UTF-8")
        assertProblem([0x80, 2, 0x51, 0x2E], contains: "BINPERSID needs more values")
        assertProblem([0x80, 2] + unicode("x") + [0x51, 0x2E], contains: "unsupported persistent id")
        for op: UInt8 in [0x82, 0x83, 0x84, 0x50, 0x97, 0x98, 0x6F] {
            XCTAssertThrowsError(try PickleMachine.unpickle([0x80, 2, 0x28, 0x4E, op, 0x2E, 0x0A])) { error in
                guard case .forbiddenOpcode? = (error as? PickleError)?.problem else { return XCTFail("\(op): \(error)") }
            }
        }
    }

    func testWorkIsBoundedByTheInputSize() throws {
        // Re-inserting a 4 KB key costs hashing each time: the budget stops it long before it gets slow.
        let key = String(repeating: "k", count: 4096)
        var bytes: [UInt8] = [0x80, 2, 0x7D] + unicode(key) + [0x71, 0]
        bytes += [0x30]
        for _ in 0..<2000 { bytes += [0x68, 0, 0x4E, 0x73] }
        bytes += [0x2E]
        assertProblem(bytes, contains: "more work than its size allows")
        assertProblem([0x80, 2, 0x7D] + unicode(key + "k") + [0x4E, 0x73, 0x2E], contains: "dictionary key of 4097 bytes")
    }

    // MARK: helpers

    private func assertProblem(_ bytes: [UInt8], contains needle: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try PickleMachine.unpickle(bytes), file: file, line: line) { error in
            XCTAssertTrue(error is PickleError, file: file, line: line)
            XCTAssertTrue("\(error)".contains(needle), "\(error)", file: file, line: line)
        }
    }

    private func global(_ module: String, _ name: String) -> [UInt8] { TorchPickleBytes.global(module, name) }
    private func unicode(_ s: String) -> [UInt8] { TorchPickleBytes.unicode(s) }
    private func int32(_ v: Int) -> [UInt8] { TorchPickleBytes.int32(v) }

    private func tensorPickle(storageType: String = "FloatStorage", key: String = "0", numel: Int, offset: Int = 0,
                              size: [Int], stride: [Int]) -> [UInt8] {
        TorchPickleBytes.tensor(storageType: storageType, key: key, numel: numel, offset: offset, size: size, stride: stride)
    }
}

/// Hand-written pickle fragments (CPython pickletools opcodes).
enum TorchPickleBytes {
    static func global(_ module: String, _ name: String) -> [UInt8] { [0x63] + Array("\(module)\n\(name)\n".utf8) }

    /// SHORT_BINUNICODE when short, else BINUNICODE.
    static func unicode(_ s: String) -> [UInt8] {
        let utf8 = Array(s.utf8)
        if utf8.count < 256 { return [0x8C, UInt8(utf8.count)] + utf8 }
        return [0x58] + int32(utf8.count) + utf8
    }

    static func int32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

    /// BININT8-free 64-bit integer: LONG1 with 8 bytes.
    static func int64(_ v: Int) -> [UInt8] { [0x8A, 8] + (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

    /// `{"w": _rebuild_tensor_v2(persistent(('storage', torch.<type>, key, 'cpu', numel)), offset, size, stride,
    /// False, OrderedDict())}` in protocol 2, integers as LONG1 (so any Int64 can be written).
    static func tensor(storageType: String = "FloatStorage", key: String = "0", numel: Int, offset: Int = 0,
                       size: [Int], stride: [Int]) -> [UInt8] {
        func tuple(_ values: [Int]) -> [UInt8] { [0x28] + values.flatMap { int64($0) } + [0x74] }
        var b: [UInt8] = [0x80, 2, 0x7D] + unicode("w") + global("torch._utils", "_rebuild_tensor_v2")
        b += [0x28, 0x28] + unicode("storage") + global("torch", storageType) + unicode(key) + unicode("cpu")
        b += int64(numel) + [0x74, 0x51]
        b += int64(offset) + tuple(size) + tuple(stride) + [0x89]
        b += global("collections", "OrderedDict") + [0x29, 0x52, 0x74, 0x52, 0x73, 0x2E]
        return b
    }
}
