/// A restricted pickle interpreter for PyTorch checkpoints: it reads data, it never runs code.
///
/// It understands every opcode of protocols 0–5 that only builds plain data (numbers, strings, bytes, tuples,
/// lists, dicts, sets, memo and stack operations, frames), and a short allowlist of globals (`PickleGlobals`):
/// `collections.OrderedDict`, the torch tensor and parameter rebuild functions, the typed storage classes, torch
/// dtypes, `torch.Size`, `set`/`frozenset` and `_codecs.encode`. "Calling" one of them (`REDUCE`, and `NEWOBJ`
/// for `OrderedDict`) builds the Swift value it describes. Any other global is refused when the `GLOBAL` /
/// `STACK_GLOBAL` opcode names it, before anything could use it; `INST`, `OBJ`, the extension registry
/// (`EXT1/2/4`), text persistent ids (`PERSID`) and out-of-band buffers are refused outright; `REDUCE` and
/// `BUILD` work only on the allowlisted callables and dictionaries. Persistent ids (`BINPERSID`) must have the
/// torch storage form `('storage', <storage class>, key, location, numel)`.
///
/// Bounds: every length is checked against the bytes that remain before anything is read or allocated;
/// containers nest at most `PickleLimits.maxDepth` deep (self-references are refused); the stack, memo and
/// output tree are capped; and work that is not proportional to the bytes consumed (hashing dictionary keys,
/// `_codecs.encode`, copying shared values into the output) is charged against a budget linear in the input,
/// so no pickle can make the reader run long or allocate much more than its own size.
public enum PickleMachine {
    /// Reads one pickle that must fill `bytes` exactly (no bytes after `STOP`).
    public static func unpickle(_ bytes: UnsafeRawBufferPointer, limits: PickleLimits = .default) throws(PickleError)
        -> PickleValue
    {
        var machine = PickleInterpreter(bytes: bytes, limits: limits)
        let root = try machine.run()
        guard machine.position == bytes.count else {
            throw PickleError(offset: machine.position, problem: .trailingBytes(bytes.count - machine.position))
        }
        return try machine.materializeRoot(root)
    }

    /// Reads the one pickle that starts at `offset` and ends at its `STOP` (the legacy `torch.save` format writes
    /// several back to back): the value, the offset just after `STOP`, and every storage its persistent ids declared.
    /// With `legacyStorageIDs`, persistent ids may also have the legacy six-element form
    /// `('storage', <storage class>, key, location, numel, view_metadata)`, with `view_metadata` None (storage views
    /// are refused). Error offsets count from `offset`. The output-size bound is linear in the pickle's own length.
    public static func unpickle(_ bytes: UnsafeRawBufferPointer, from offset: Int, limits: PickleLimits = .default,
                                legacyStorageIDs: Bool = false) throws(PickleError)
        -> (value: PickleValue, end: Int, storages: [TorchStorageRef])
    {
        guard offset >= 0, offset <= bytes.count else { throw PickleError(offset: 0, problem: .noStop) }
        var machine = PickleInterpreter(bytes: UnsafeRawBufferPointer(rebasing: bytes[offset...]), limits: limits)
        machine.legacyStorageIDs = legacyStorageIDs
        let root = try machine.run()
        let length = machine.position
        if limits.maxNodes == nil { machine.nodeBudget = length > Int.max / 8 ? Int.max : 4 * length + 4096 }
        let value = try machine.materializeRoot(root)
        let storages = machine.storages.values.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        return (value, offset + length, storages)
    }

    /// Convenience for tests and tools.
    public static func unpickle(_ bytes: [UInt8], limits: PickleLimits = .default) throws(PickleError) -> PickleValue {
        var result: Result<PickleValue, PickleError> = .failure(PickleError(offset: 0, problem: .noStop))
        bytes.withUnsafeBytes { buffer in
            do throws(PickleError) { result = .success(try unpickle(buffer, limits: limits)) } catch { result = .failure(error) }
        }
        return try result.get()
    }
}

/// Opcode bytes (CPython `pickletools`), protocol in brackets.
enum PickleOpcode {
    static let mark: UInt8 = 0x28  // ( [0]
    static let stop: UInt8 = 0x2E  // . [0]
    static let pop: UInt8 = 0x30  // 0 [0]
    static let popMark: UInt8 = 0x31  // 1 [1]
    static let dup: UInt8 = 0x32  // 2 [0]
    static let float: UInt8 = 0x46  // F [0]
    static let int: UInt8 = 0x49  // I [0]
    static let binInt: UInt8 = 0x4A  // J [1]
    static let binInt1: UInt8 = 0x4B  // K [1]
    static let long: UInt8 = 0x4C  // L [0]
    static let binInt2: UInt8 = 0x4D  // M [1]
    static let none: UInt8 = 0x4E  // N [0]
    static let persID: UInt8 = 0x50  // P [0]
    static let binPersID: UInt8 = 0x51  // Q [1]
    static let reduce: UInt8 = 0x52  // R [0]
    static let string: UInt8 = 0x53  // S [0]
    static let binString: UInt8 = 0x54  // T [1]
    static let shortBinString: UInt8 = 0x55  // U [1]
    static let unicode: UInt8 = 0x56  // V [0]
    static let binUnicode: UInt8 = 0x58  // X [1]
    static let append: UInt8 = 0x61  // a [0]
    static let build: UInt8 = 0x62  // b [0]
    static let global: UInt8 = 0x63  // c [0]
    static let dict: UInt8 = 0x64  // d [0]
    static let appends: UInt8 = 0x65  // e [1]
    static let get: UInt8 = 0x67  // g [0]
    static let binGet: UInt8 = 0x68  // h [1]
    static let inst: UInt8 = 0x69  // i [0]
    static let longBinGet: UInt8 = 0x6A  // j [1]
    static let list: UInt8 = 0x6C  // l [0]
    static let obj: UInt8 = 0x6F  // o [1]
    static let put: UInt8 = 0x70  // p [0]
    static let binPut: UInt8 = 0x71  // q [1]
    static let longBinPut: UInt8 = 0x72  // r [1]
    static let setItem: UInt8 = 0x73  // s [0]
    static let tuple: UInt8 = 0x74  // t [0]
    static let setItems: UInt8 = 0x75  // u [1]
    static let binFloat: UInt8 = 0x47  // G [1]
    static let emptyDict: UInt8 = 0x7D  // } [1]
    static let emptyList: UInt8 = 0x5D  // ] [1]
    static let emptyTuple: UInt8 = 0x29  // ) [1]
    static let binBytes: UInt8 = 0x42  // B [3]
    static let shortBinBytes: UInt8 = 0x43  // C [3]
    static let proto: UInt8 = 0x80  // [2]
    static let newObj: UInt8 = 0x81
    static let ext1: UInt8 = 0x82
    static let ext2: UInt8 = 0x83
    static let ext4: UInt8 = 0x84
    static let tuple1: UInt8 = 0x85
    static let tuple2: UInt8 = 0x86
    static let tuple3: UInt8 = 0x87
    static let newTrue: UInt8 = 0x88
    static let newFalse: UInt8 = 0x89
    static let long1: UInt8 = 0x8A
    static let long4: UInt8 = 0x8B
    static let shortBinUnicode: UInt8 = 0x8C  // [4]
    static let binUnicode8: UInt8 = 0x8D
    static let binBytes8: UInt8 = 0x8E
    static let emptySet: UInt8 = 0x8F
    static let addItems: UInt8 = 0x90
    static let frozenSet: UInt8 = 0x91
    static let newObjEx: UInt8 = 0x92
    static let stackGlobal: UInt8 = 0x93
    static let memoize: UInt8 = 0x94
    static let frame: UInt8 = 0x95
    static let byteArray8: UInt8 = 0x96  // [5]
    static let nextBuffer: UInt8 = 0x97
    static let readOnlyBuffer: UInt8 = 0x98

    /// The pickletools name of an opcode byte, for messages.
    static func name(_ op: UInt8) -> String {
        switch op {
        case mark: return "MARK"
        case stop: return "STOP"
        case pop: return "POP"
        case popMark: return "POP_MARK"
        case dup: return "DUP"
        case float: return "FLOAT"
        case int: return "INT"
        case binInt: return "BININT"
        case binInt1: return "BININT1"
        case long: return "LONG"
        case binInt2: return "BININT2"
        case none: return "NONE"
        case persID: return "PERSID"
        case binPersID: return "BINPERSID"
        case reduce: return "REDUCE"
        case string: return "STRING"
        case binString: return "BINSTRING"
        case shortBinString: return "SHORT_BINSTRING"
        case unicode: return "UNICODE"
        case binUnicode: return "BINUNICODE"
        case append: return "APPEND"
        case build: return "BUILD"
        case global: return "GLOBAL"
        case dict: return "DICT"
        case appends: return "APPENDS"
        case get: return "GET"
        case binGet: return "BINGET"
        case inst: return "INST"
        case longBinGet: return "LONG_BINGET"
        case list: return "LIST"
        case obj: return "OBJ"
        case put: return "PUT"
        case binPut: return "BINPUT"
        case longBinPut: return "LONG_BINPUT"
        case setItem: return "SETITEM"
        case tuple: return "TUPLE"
        case setItems: return "SETITEMS"
        case binFloat: return "BINFLOAT"
        case emptyDict: return "EMPTY_DICT"
        case emptyList: return "EMPTY_LIST"
        case emptyTuple: return "EMPTY_TUPLE"
        case binBytes: return "BINBYTES"
        case shortBinBytes: return "SHORT_BINBYTES"
        case proto: return "PROTO"
        case newObj: return "NEWOBJ"
        case ext1: return "EXT1"
        case ext2: return "EXT2"
        case ext4: return "EXT4"
        case tuple1: return "TUPLE1"
        case tuple2: return "TUPLE2"
        case tuple3: return "TUPLE3"
        case newTrue: return "NEWTRUE"
        case newFalse: return "NEWFALSE"
        case long1: return "LONG1"
        case long4: return "LONG4"
        case shortBinUnicode: return "SHORT_BINUNICODE"
        case binUnicode8: return "BINUNICODE8"
        case binBytes8: return "BINBYTES8"
        case emptySet: return "EMPTY_SET"
        case addItems: return "ADDITEMS"
        case frozenSet: return "FROZENSET"
        case newObjEx: return "NEWOBJ_EX"
        case stackGlobal: return "STACK_GLOBAL"
        case memoize: return "MEMOIZE"
        case frame: return "FRAME"
        case byteArray8: return "BYTEARRAY8"
        case nextBuffer: return "NEXT_BUFFER"
        case readOnlyBuffer: return "READONLY_BUFFER"
        default: return "0x\(String(op, radix: 16))"
        }
    }
}

/// A value on the machine's stack or in its memo. Mutable containers live in the machine's tables and are
/// referenced by index, so `APPEND`/`SETITEM` after `PUT` are seen through every reference, as in Python.
enum PickleNode {
    case none
    case bool(Bool)
    case int(Int64)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    /// Tuples are immutable; `depth` is their nesting (containers inside count 1).
    case tuple([PickleNode], depth: Int)
    case list(Int)
    case dict(Int)
    case set(Int)
    case global(PickleGlobal)
    case storage(TorchStorageRef)
    case tensor(TorchTensorRef)

    var depth: Int {
        switch self {
        case let .tuple(_, depth): return depth
        case .list, .dict, .set, .tensor: return 1
        default: return 0
        }
    }

    var kindName: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes: return "bytes"
        case .tuple: return "tuple"
        case .list: return "list"
        case .dict: return "dict"
        case .set: return "set"
        case let .global(g): return g.qualifiedName
        case .storage: return "storage"
        case .tensor: return "tensor"
        }
    }
}

/// A hashable dictionary key or set member: scalars and tuples of them.
enum PickleKey: Hashable {
    case none
    case bool(Bool)
    case int(Int64)
    case float(UInt64)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleKey])
}

struct PickleDictObject {
    var keys: [PickleNode] = []
    var values: [PickleNode] = []
    var index: [PickleKey: Int] = [:]
    let ordered: Bool
}

struct PickleSetObject {
    var members: [PickleNode] = []
    var index: Set<PickleKey> = []
}

/// The interpreter state for one pickle.
struct PickleInterpreter {
    let bytes: UnsafeRawBufferPointer
    let limits: PickleLimits
    var position = 0
    /// Offset of the opcode being executed (for errors).
    var opcodeStart = 0
    var opcodeName = ""
    var stack: [PickleNode] = []
    /// Stack heights at each open MARK.
    var marks: [Int] = []
    var memo: [Int: PickleNode] = [:]
    var lists: [[PickleNode]] = []
    var dicts: [PickleDictObject] = []
    var sets: [PickleSetObject] = []
    /// Storages seen so far, by key: every reference to a key must agree.
    var storages: [String: TorchStorageRef] = [:]
    /// Work not paid for by consumed bytes (key hashing, encoding, output copies), capped at `workBudget`.
    var work = 0
    let workBudget: Int
    var nodeBudget: Int
    /// Accept the legacy (pre-1.6 torch.save) six-element storage persistent ids (see `unpickle(_:from:)`).
    var legacyStorageIDs = false

    /// Longest dictionary-key string (keys are hashed on every insert).
    static let maxKeyBytes = 4096
    /// Longest module or attribute name in GLOBAL.
    static let maxGlobalNameBytes = 1024

    init(bytes: UnsafeRawBufferPointer, limits: PickleLimits) {
        self.bytes = bytes
        self.limits = limits
        let (scaled, overflow) = bytes.count.multipliedReportingOverflow(by: 16)
        self.workBudget = overflow ? Int.max : scaled + (1 << 20)
        self.nodeBudget = limits.maxNodes ?? (bytes.count > Int.max / 8 ? Int.max : 4 * bytes.count + 4096)
    }

    // MARK: errors and input

    func fail(_ problem: PickleError.Problem) -> PickleError {
        PickleError(offset: opcodeStart, problem: problem)
    }

    var remaining: Int { bytes.count - position }

    mutating func charge(_ units: Int) throws(PickleError) {
        work += units
        if work > workBudget { throw fail(.limitExceeded("the pickle needs more work than its size allows (\(workBudget) units)")) }
    }

    mutating func readByte() throws(PickleError) -> UInt8 {
        guard position < bytes.count else { throw fail(.truncated(opcodeName)) }
        defer { position += 1 }
        return bytes[position]
    }

    /// `count` bytes from the input; the count is checked before anything is sliced.
    mutating func readBytes(_ count: UInt64) throws(PickleError) -> UnsafeRawBufferPointer {
        guard count <= UInt64(remaining) else { throw fail(.truncated(opcodeName)) }
        let n = Int(count)
        defer { position += n }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + n)])
    }

    mutating func readUInt(_ width: Int) throws(PickleError) -> UInt64 {
        let raw = try readBytes(UInt64(width))
        var v: UInt64 = 0
        for i in stride(from: width - 1, through: 0, by: -1) { v = v << 8 | UInt64(raw[i]) }
        return v
    }

    /// A line ending in `\n` (the newline is consumed, not returned).
    mutating func readLine() throws(PickleError) -> UnsafeRawBufferPointer {
        guard let newline = bytes[position...].firstIndex(of: 0x0A) else { throw fail(.truncated(opcodeName)) }
        defer { position = newline + 1 }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<newline])
    }

    func utf8(_ raw: UnsafeRawBufferPointer, what: String) throws(PickleError) -> String {
        guard let s = String(validating: raw, as: UTF8.self) else { throw fail(.invalidText("\(what) is not valid UTF-8")) }
        return s
    }

    // MARK: stack

    /// Height below which the current frame may not pop (the last MARK).
    var floor: Int { marks.last ?? 0 }

    mutating func push(_ node: PickleNode) throws(PickleError) {
        guard stack.count < limits.maxStack else { throw fail(.limitExceeded("more than \(limits.maxStack) values on the stack")) }
        stack.append(node)
    }

    mutating func pop() throws(PickleError) -> PickleNode {
        guard stack.count > floor else { throw fail(.stackUnderflow(opcodeName)) }
        return stack.removeLast()
    }

    func top() throws(PickleError) -> PickleNode {
        guard stack.count > floor, let last = stack.last else { throw fail(.stackUnderflow(opcodeName)) }
        return last
    }

    /// The values pushed since the last MARK, which is removed.
    mutating func popMark() throws(PickleError) -> [PickleNode] {
        guard let mark = marks.popLast() else { throw fail(.noMark(opcodeName)) }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    mutating func makeTuple(_ items: [PickleNode]) throws(PickleError) -> PickleNode {
        let depth = 1 + (items.map(\.depth).max() ?? 0)
        guard depth <= limits.maxDepth else { throw fail(.limitExceeded("tuples nested deeper than \(limits.maxDepth)")) }
        return .tuple(items, depth: depth)
    }

    // MARK: containers

    mutating func newList(_ items: [PickleNode] = []) -> PickleNode {
        lists.append(items)
        return .list(lists.count - 1)
    }

    mutating func newDict(ordered: Bool) -> PickleNode {
        dicts.append(PickleDictObject(ordered: ordered))
        return .dict(dicts.count - 1)
    }

    mutating func newSet(_ items: [PickleNode]) throws(PickleError) -> PickleNode {
        sets.append(PickleSetObject())
        let id = sets.count - 1
        for item in items { try addToSet(id, item) }
        return .set(id)
    }

    /// The hashable form of a key; its size is charged as work because it is hashed on every insert.
    mutating func key(_ node: PickleNode) throws(PickleError) -> PickleKey {
        var size = 0
        let k = try keyParts(node, size: &size, depth: 0)
        try charge(size)
        return k
    }

    private func keyParts(_ node: PickleNode, size: inout Int, depth: Int) throws(PickleError) -> PickleKey {
        size += 1
        switch node {
        case .none: return .none
        case let .bool(b): return .bool(b)
        case let .int(i): return .int(i)
        case let .float(d): return .float(d == 0 ? 0 : (d.isNaN ? Double.nan.bitPattern : d.bitPattern))
        case let .string(s):
            guard s.utf8.count <= PickleInterpreter.maxKeyBytes else {
                throw fail(.limitExceeded("dictionary key of \(s.utf8.count) bytes (at most \(PickleInterpreter.maxKeyBytes))"))
            }
            size += s.utf8.count
            return .string(s)
        case let .bytes(b):
            guard b.count <= PickleInterpreter.maxKeyBytes else {
                throw fail(.limitExceeded("dictionary key of \(b.count) bytes (at most \(PickleInterpreter.maxKeyBytes))"))
            }
            size += b.count
            return .bytes(b)
        case let .tuple(items, _):
            guard items.count <= 64, depth < 8 else { throw fail(.limitExceeded("tuple dictionary key too large")) }
            var parts: [PickleKey] = []
            parts.reserveCapacity(items.count)
            for item in items { parts.append(try keyParts(item, size: &size, depth: depth + 1)) }
            return .tuple(parts)
        default:
            throw fail(.invalidArgument("unhashable \(node.kindName) used as a dictionary key or set member"))
        }
    }

    mutating func setItem(_ dictID: Int, _ keyNode: PickleNode, _ value: PickleNode) throws(PickleError) {
        let k = try key(keyNode)
        if let existing = dicts[dictID].index[k] {
            dicts[dictID].values[existing] = value  // Python keeps the first position, last value
        } else {
            dicts[dictID].index[k] = dicts[dictID].keys.count
            dicts[dictID].keys.append(keyNode)
            dicts[dictID].values.append(value)
        }
    }

    mutating func addToSet(_ setID: Int, _ item: PickleNode) throws(PickleError) {
        let k = try key(item)
        if sets[setID].index.insert(k).inserted { sets[setID].members.append(item) }
    }

    // MARK: the interpreter loop

    mutating func run() throws(PickleError) -> PickleNode {
        while position < bytes.count {
            opcodeStart = position
            let op = bytes[position]
            position += 1
            opcodeName = PickleOpcode.name(op)
            switch op {
            case PickleOpcode.proto:
                let version = try readByte()
                guard version <= 5 else { throw fail(.invalidArgument("unsupported pickle protocol \(version)")) }
            case PickleOpcode.frame:
                let length = try readUInt(8)
                guard length <= UInt64(remaining) else { throw fail(.truncated("FRAME")) }
            case PickleOpcode.stop:
                guard marks.isEmpty else { throw fail(.malformedStop("with \(marks.count) unclosed MARK(s)")) }
                guard stack.count == 1 else { throw fail(.malformedStop("with \(stack.count) values on the stack (expected 1)")) }
                return stack[0]

            // Stack and memo.
            case PickleOpcode.mark:
                guard marks.count < limits.maxStack else { throw fail(.limitExceeded("too many MARKs")) }
                marks.append(stack.count)
            case PickleOpcode.pop:
                if stack.count > floor { stack.removeLast() } else if !marks.isEmpty { marks.removeLast() } else {
                    throw fail(.stackUnderflow("POP"))
                }
            case PickleOpcode.popMark: _ = try popMark()
            case PickleOpcode.dup: try push(try top())
            case PickleOpcode.get: try push(try memoGet(try decimalLine()))
            case PickleOpcode.binGet: try push(try memoGet(Int(try readUInt(1))))
            case PickleOpcode.longBinGet: try push(try memoGet(Int(try readUInt(4))))
            case PickleOpcode.put: try memoPut(try decimalLine())
            case PickleOpcode.binPut: try memoPut(Int(try readUInt(1)))
            case PickleOpcode.longBinPut: try memoPut(Int(try readUInt(4)))
            case PickleOpcode.memoize: try memoPut(memo.count)

            // Scalars.
            case PickleOpcode.none: try push(.none)
            case PickleOpcode.newTrue: try push(.bool(true))
            case PickleOpcode.newFalse: try push(.bool(false))
            case PickleOpcode.binInt: try push(.int(Int64(Int32(bitPattern: UInt32(try readUInt(4))))))
            case PickleOpcode.binInt1: try push(.int(Int64(try readUInt(1))))
            case PickleOpcode.binInt2: try push(.int(Int64(try readUInt(2))))
            case PickleOpcode.int:
                let line = try readLine()
                if line.elementsEqual("00".utf8) { try push(.bool(false)) } else if line.elementsEqual("01".utf8) {
                    try push(.bool(true))
                } else {
                    try push(.int(try parseInteger(line, allowLongSuffix: false)))
                }
            case PickleOpcode.long: try push(.int(try parseInteger(try readLine(), allowLongSuffix: true)))
            case PickleOpcode.long1: try push(.int(try littleEndianSigned(try readBytes(try readUInt(1)))))
            case PickleOpcode.long4:
                let n = Int32(bitPattern: UInt32(try readUInt(4)))
                guard n >= 0 else { throw fail(.invalidArgument("LONG4 with negative length \(n)")) }
                try push(.int(try littleEndianSigned(try readBytes(UInt64(n)))))
            case PickleOpcode.binFloat:
                try push(.float(Double(bitPattern: try readUInt(8).byteSwapped)))  // big-endian
            case PickleOpcode.float:
                let text = try utf8(try readLine(), what: "FLOAT")
                guard let value = Double(text) else { throw fail(.invalidText("FLOAT \"\(text)\" is not a number")) }
                try push(.float(value))

            // Text and bytes.
            case PickleOpcode.binUnicode: try push(.string(try utf8(try readBytes(try readUInt(4)), what: "BINUNICODE")))
            case PickleOpcode.shortBinUnicode: try push(.string(try utf8(try readBytes(try readUInt(1)), what: "SHORT_BINUNICODE")))
            case PickleOpcode.binUnicode8: try push(.string(try utf8(try readBytes(try readUInt(8)), what: "BINUNICODE8")))
            case PickleOpcode.unicode: try push(.string(try rawUnicodeEscape(try readLine())))
            case PickleOpcode.binString:
                let n = Int32(bitPattern: UInt32(try readUInt(4)))
                guard n >= 0 else { throw fail(.invalidArgument("BINSTRING with negative length \(n)")) }
                try push(.string(try utf8(try readBytes(UInt64(n)), what: "BINSTRING")))
            case PickleOpcode.shortBinString: try push(.string(try utf8(try readBytes(try readUInt(1)), what: "SHORT_BINSTRING")))
            case PickleOpcode.string: try push(.string(try quotedString(try readLine())))
            case PickleOpcode.binBytes: try push(.bytes(Array(try readBytes(try readUInt(4)))))
            case PickleOpcode.shortBinBytes: try push(.bytes(Array(try readBytes(try readUInt(1)))))
            case PickleOpcode.binBytes8, PickleOpcode.byteArray8: try push(.bytes(Array(try readBytes(try readUInt(8)))))

            // Containers.
            case PickleOpcode.emptyTuple: try push(.tuple([], depth: 1))
            case PickleOpcode.tuple: try push(try makeTuple(try popMark()))
            case PickleOpcode.tuple1:
                let a = try pop()
                try push(try makeTuple([a]))
            case PickleOpcode.tuple2:
                let b = try pop(), a = try pop()
                try push(try makeTuple([a, b]))
            case PickleOpcode.tuple3:
                let c = try pop(), b = try pop(), a = try pop()
                try push(try makeTuple([a, b, c]))
            case PickleOpcode.emptyList: try push(newList())
            case PickleOpcode.list: try push(newList(try popMark()))
            case PickleOpcode.append:
                let value = try pop()
                guard case let .list(id) = try top() else { throw fail(.forbiddenCall("APPEND to a \(try top().kindName)")) }
                lists[id].append(value)
            case PickleOpcode.appends:
                let items = try popMark()
                guard case let .list(id) = try top() else { throw fail(.forbiddenCall("APPENDS to a \(try top().kindName)")) }
                lists[id].append(contentsOf: items)
            case PickleOpcode.emptyDict: try push(newDict(ordered: false))
            case PickleOpcode.dict:
                let items = try popMark()
                guard items.count % 2 == 0 else { throw fail(.invalidArgument("DICT with an odd number of items")) }
                dicts.append(PickleDictObject(ordered: false))
                let id = dicts.count - 1
                for i in stride(from: 0, to: items.count, by: 2) { try setItem(id, items[i], items[i + 1]) }
                try push(.dict(id))
            case PickleOpcode.setItem:
                let value = try pop(), k = try pop()
                guard case let .dict(id) = try top() else { throw fail(.forbiddenCall("SETITEM on a \(try top().kindName)")) }
                try setItem(id, k, value)
            case PickleOpcode.setItems:
                let items = try popMark()
                guard items.count % 2 == 0 else { throw fail(.invalidArgument("SETITEMS with an odd number of items")) }
                guard case let .dict(id) = try top() else { throw fail(.forbiddenCall("SETITEMS on a \(try top().kindName)")) }
                for i in stride(from: 0, to: items.count, by: 2) { try setItem(id, items[i], items[i + 1]) }
            case PickleOpcode.emptySet: try push(try newSet([]))
            case PickleOpcode.addItems:
                let items = try popMark()
                guard case let .set(id) = try top() else { throw fail(.forbiddenCall("ADDITEMS on a \(try top().kindName)")) }
                for item in items { try addToSet(id, item) }
            case PickleOpcode.frozenSet: try push(try newSet(try popMark()))

            // Globals and calls.
            case PickleOpcode.global:
                let module = try globalName(try readLine())
                let name = try globalName(try readLine())
                try push(.global(try resolve(module: module, name: name)))
            case PickleOpcode.stackGlobal:
                let nameNode = try pop(), moduleNode = try pop()
                guard case let .string(module) = moduleNode, case let .string(name) = nameNode else {
                    throw fail(.invalidArgument("STACK_GLOBAL needs two strings, got \(moduleNode.kindName) and \(nameNode.kindName)"))
                }
                try push(.global(try resolve(module: module, name: name)))
            case PickleOpcode.reduce:
                let args = try pop(), callable = try pop()
                try push(try call(callable, args: args, via: "REDUCE"))
            case PickleOpcode.newObj:
                let args = try pop(), cls = try pop()
                try push(try newObject(cls, args: args, kwargs: nil))
            case PickleOpcode.newObjEx:
                let kwargs = try pop(), args = try pop(), cls = try pop()
                try push(try newObject(cls, args: args, kwargs: kwargs))
            case PickleOpcode.build:
                let state = try pop()
                try build(on: try top(), state: state)
            case PickleOpcode.binPersID:
                var pid = try pop()
                if legacyStorageIDs { pid = try legacyStorageID(pid) }
                try push(try persistentLoad(pid))

            // Refused: these construct arbitrary objects or reach outside the stream.
            case PickleOpcode.inst:
                let module = try globalName(try readLine())
                let name = try globalName(try readLine())
                throw fail(.forbiddenOpcode("INST (\(module).\(name))"))
            case PickleOpcode.obj:
                let cls = (try? top()).map { " (\($0.kindName))" } ?? ""
                throw fail(.forbiddenOpcode("OBJ\(cls)"))
            case PickleOpcode.ext1, PickleOpcode.ext2, PickleOpcode.ext4, PickleOpcode.persID, PickleOpcode.nextBuffer,
                PickleOpcode.readOnlyBuffer:
                throw fail(.forbiddenOpcode(opcodeName))
            default:
                throw fail(.unknownOpcode(op))
            }
        }
        opcodeStart = position
        throw fail(.noStop)
    }

    /// The legacy persistent id `('storage', type, key, location, numel, view_metadata)` as the current five-element
    /// form; `view_metadata` must be None (pre-1.0 storage views are refused). Other ids pass unchanged.
    func legacyStorageID(_ pid: PickleNode) throws(PickleError) -> PickleNode {
        guard case let .tuple(a, depth) = pid, a.count == 6, case .string("storage") = a[0] else { return pid }
        guard case .none = a[5] else {
            throw fail(.unsupported("a storage view (legacy view_metadata \(a[5].kindName)); re-save the checkpoint with a current torch"))
        }
        return .tuple(Array(a.prefix(5)), depth: depth)
    }

    // MARK: memo

    mutating func memoGet(_ index: Int) throws(PickleError) -> PickleNode {
        guard let node = memo[index] else { throw fail(.memoMissing(index)) }
        return node
    }

    mutating func memoPut(_ index: Int) throws(PickleError) {
        guard index >= 0 else { throw fail(.invalidArgument("negative memo index \(index)")) }
        let node = try top()
        if memo[index] == nil, memo.count >= limits.maxMemo {
            throw fail(.limitExceeded("more than \(limits.maxMemo) memo entries"))
        }
        memo[index] = node
    }

    // MARK: text forms of protocol 0

    mutating func decimalLine() throws(PickleError) -> Int {
        let v = try parseInteger(try readLine(), allowLongSuffix: false)
        guard let i = Int(exactly: v) else { throw fail(.integerTooLarge) }
        return i
    }

    /// `[+-]digits[L]`, within Int64.
    func parseInteger(_ line: UnsafeRawBufferPointer, allowLongSuffix: Bool) throws(PickleError) -> Int64 {
        var digits = line[...]
        if allowLongSuffix, digits.last == UInt8(ascii: "L") { digits = digits.dropLast() }
        var negative = false
        if let first = digits.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            negative = first == UInt8(ascii: "-")
            digits = digits.dropFirst()
        }
        guard !digits.isEmpty else { throw fail(.invalidText("\(opcodeName) has no digits")) }
        var magnitude: UInt64 = 0
        for d in digits {
            guard d >= 0x30, d <= 0x39 else { throw fail(.invalidText("\(opcodeName) argument is not a decimal integer")) }
            let (m1, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (m2, o2) = m1.addingReportingOverflow(UInt64(d - 0x30))
            guard !o1, !o2 else { throw fail(.integerTooLarge) }
            magnitude = m2
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { throw fail(.integerTooLarge) }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { throw fail(.integerTooLarge) }
        return Int64(magnitude)
    }

    /// Two's-complement little-endian integer (LONG1/LONG4), which must fit in Int64.
    func littleEndianSigned(_ raw: UnsafeRawBufferPointer) throws(PickleError) -> Int64 {
        guard !raw.isEmpty else { return 0 }
        let negative = raw[raw.count - 1] & 0x80 != 0
        let fill: UInt8 = negative ? 0xFF : 0x00
        // Bytes beyond the eighth must be sign extension, and the eighth's sign bit must match.
        if raw.count > 8 {
            for i in 8..<raw.count where raw[i] != fill { throw fail(.integerTooLarge) }
            guard (raw[7] & 0x80 != 0) == negative else { throw fail(.integerTooLarge) }
        }
        var v: UInt64 = negative ? UInt64.max : 0
        for i in stride(from: min(raw.count, 8) - 1, through: 0, by: -1) {
            v = (v << 8) | UInt64(raw[i])
        }
        return Int64(bitPattern: v)
    }

    /// A module or attribute name of GLOBAL/INST: printable UTF-8 of bounded length.
    func globalName(_ line: UnsafeRawBufferPointer) throws(PickleError) -> String {
        guard line.count <= PickleInterpreter.maxGlobalNameBytes else { throw fail(.limitExceeded("\(opcodeName) name longer than \(PickleInterpreter.maxGlobalNameBytes) bytes")) }
        return try utf8(line, what: "\(opcodeName) name")
    }

    /// The `repr` of a Python 2 str (protocol 0 STRING): quoted, with backslash escapes.
    mutating func quotedString(_ line: UnsafeRawBufferPointer) throws(PickleError) -> String {
        guard line.count >= 2, let q = line.first, q == UInt8(ascii: "'") || q == UInt8(ascii: "\""), line.last == q else {
            throw fail(.invalidText("STRING argument is not quoted"))
        }
        let body = line[(line.startIndex + 1)..<(line.endIndex - 1)]
        var out: [UInt8] = []
        out.reserveCapacity(body.count)
        var i = body.startIndex
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x61...0x66: return c - 0x61 + 10
            case 0x41...0x46: return c - 0x41 + 10
            default: return nil
            }
        }
        while i < body.endIndex {
            let c = body[i]
            i += 1
            guard c == UInt8(ascii: "\\") else {
                out.append(c)
                continue
            }
            guard i < body.endIndex else { throw fail(.invalidText("STRING ends with a lone backslash")) }
            let e = body[i]
            i += 1
            switch e {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "a"): out.append(0x07)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "v"): out.append(0x0B)
            case UInt8(ascii: "\\"), UInt8(ascii: "'"), UInt8(ascii: "\""): out.append(e)
            case 0x0A: break  // line continuation
            case UInt8(ascii: "x"):
                guard i + 1 < body.endIndex, let h = hex(body[i]), let l = hex(body[i + 1]) else {
                    throw fail(.invalidText("STRING has an invalid \\x escape"))
                }
                out.append(h << 4 | l)
                i += 2
            case 0x30...0x37:
                var v = Int(e - 0x30)
                var n = 1
                while n < 3, i < body.endIndex, body[i] >= 0x30, body[i] <= 0x37 {
                    v = v * 8 + Int(body[i] - 0x30)
                    i += 1
                    n += 1
                }
                out.append(UInt8(truncatingIfNeeded: v))
            default:
                out.append(c)
                out.append(e)
            }
        }
        guard let text = String(validating: out, as: UTF8.self) else { throw fail(.invalidText("STRING is not valid UTF-8")) }
        return text
    }

    /// Python's raw-unicode-escape (protocol 0 UNICODE): bytes are Latin-1 code points except `\uXXXX` and
    /// `\UXXXXXXXX`.
    func rawUnicodeEscape(_ line: UnsafeRawBufferPointer) throws(PickleError) -> String {
        var scalars = String.UnicodeScalarView()
        var i = 0
        while i < line.count {
            let c = line[i]
            if c == UInt8(ascii: "\\"), i + 1 < line.count, line[i + 1] == UInt8(ascii: "u") || line[i + 1] == UInt8(ascii: "U") {
                let width = line[i + 1] == UInt8(ascii: "u") ? 4 : 8
                guard i + 2 + width <= line.count else { throw fail(.invalidText("UNICODE has a truncated \\u escape")) }
                var v: UInt32 = 0
                for j in 0..<width {
                    let h = line[i + 2 + j]
                    let digit: UInt32
                    switch h {
                    case 0x30...0x39: digit = UInt32(h - 0x30)
                    case 0x61...0x66: digit = UInt32(h - 0x61 + 10)
                    case 0x41...0x46: digit = UInt32(h - 0x41 + 10)
                    default: throw fail(.invalidText("UNICODE has an invalid \\u escape"))
                    }
                    v = v << 4 | digit
                }
                guard let scalar = Unicode.Scalar(v) else { throw fail(.invalidText("UNICODE escape \\u\(String(v, radix: 16)) is not a scalar value")) }
                scalars.append(scalar)
                i += 2 + width
            } else {
                scalars.append(Unicode.Scalar(c))
                i += 1
            }
        }
        return String(scalars)
    }
}
