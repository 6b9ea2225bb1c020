/// The allowlist of `PickleMachine`, and what "calling" each entry builds.
///
/// A state dict written by `torch.save` (any version since 1.6, protocol 2) needs only these. Names are matched
/// exactly as `module.name`; the Python 2 spelling `__builtin__` is accepted for `set`/`frozenset` because
/// protocol-2 pickles written by Python 3 use it.
public enum PickleGlobals {
    /// Every allowed qualified name, sorted.
    public static var allowed: [String] { table.keys.sorted() }

    /// Known torch globals that are harmless but describe values this reader does not handle; naming one gives
    /// an "unsupported" error rather than a "forbidden" one.
    static let unsupported: [String: String] = {
        var out: [String: String] = [:]
        for s in ["ComplexFloatStorage", "ComplexDoubleStorage", "QInt8Storage", "QInt32Storage", "QUInt8Storage",
                  "QUInt4x2Storage", "QUInt2x4Storage"] {
            out["torch.\(s)"] = "torch.\(s) (complex and quantized storages are not supported)"
        }
        for f in ["_rebuild_qtensor", "_rebuild_sparse_tensor", "_rebuild_nested_tensor", "_rebuild_device_tensor_from_numpy",
                  "_rebuild_meta_tensor_no_storage", "_rebuild_wrapper_subclass", "_rebuild_device_tensor_from_cpu_tensor",
                  "_rebuild_sparse_csr_tensor", "_rebuild_mkldnn_tensor", "_rebuild_xla_tensor", "_rebuild_mtia_tensor"] {
            out["torch._utils.\(f)"] = "torch._utils.\(f) (only dense tensors backed by archive storages are supported)"
        }
        return out
    }()

    static let table: [String: PickleGlobal] = {
        var t: [String: PickleGlobal] = [
            "collections.OrderedDict": .orderedDict,
            "builtins.set": .set, "__builtin__.set": .set,
            "builtins.frozenset": .frozenset, "__builtin__.frozenset": .frozenset,
            "torch.Size": .torchSize,
            "_codecs.encode": .codecsEncode,
            "torch._utils._rebuild_tensor": .rebuildTensor,
            "torch._utils._rebuild_tensor_v2": .rebuildTensorV2,
            "torch._utils._rebuild_tensor_v3": .rebuildTensorV3,
            "torch._utils._rebuild_parameter": .rebuildParameter,
            "torch._utils._rebuild_parameter_with_state": .rebuildParameterWithState,
            "torch._tensor._rebuild_from_type_v2": .rebuildFromTypeV2,
            "torch.Tensor": .tensorClass(name: "torch.Tensor", isParameter: false),
            "torch.nn.parameter.Parameter": .tensorClass(name: "torch.nn.parameter.Parameter", isParameter: true),
            "torch.UntypedStorage": .storageType(name: "UntypedStorage", dtype: nil),
            "torch.storage.UntypedStorage": .storageType(name: "UntypedStorage", dtype: nil),
        ]
        let storages: [(String, DType)] = [
            ("FloatStorage", .f32), ("HalfStorage", .f16), ("BFloat16Storage", .bf16), ("DoubleStorage", .f64),
            ("LongStorage", .i64), ("IntStorage", .i32), ("ShortStorage", .i16), ("CharStorage", .i8),
            ("ByteStorage", .u8), ("BoolStorage", .bool),
        ]
        for (name, dtype) in storages { t["torch.\(name)"] = .storageType(name: name, dtype: dtype) }
        let dtypes: [(String, DType?)] = [
            ("float32", .f32), ("float", .f32), ("float16", .f16), ("half", .f16), ("bfloat16", .bf16),
            ("float64", .f64), ("double", .f64), ("int64", .i64), ("long", .i64), ("int32", .i32), ("int", .i32),
            ("int16", .i16), ("short", .i16), ("int8", .i8), ("uint8", .u8), ("bool", .bool), ("uint16", .u16),
            ("uint32", .u32), ("uint64", .u64), ("complex64", .c64), ("cfloat", .c64),
            ("float8_e5m2", .f8e5m2), ("float8_e4m3fn", .f8e4m3), ("float8_e4m3fnuz", .f8e4m3fnuz),
            ("float8_e5m2fnuz", .f8e5m2fnuz), ("float8_e8m0fnu", .f8e8m0),
            ("complex128", nil), ("cdouble", nil), ("complex32", nil), ("chalf", nil), ("qint8", nil), ("quint8", nil),
            ("qint32", nil), ("quint4x2", nil), ("quint2x4", nil),
        ]
        for (name, dtype) in dtypes { t["torch.\(name)"] = .dtype(name: name, dtype: dtype) }
        return t
    }()
}

/// An allowlisted global, resolved when GLOBAL/STACK_GLOBAL names it.
enum PickleGlobal: Equatable, Sendable {
    case orderedDict
    case set
    case frozenset
    case torchSize
    case codecsEncode
    case rebuildTensor
    case rebuildTensorV2
    case rebuildTensorV3
    case rebuildParameter
    case rebuildParameterWithState
    case rebuildFromTypeV2
    /// A storage class; nil dtype for `UntypedStorage`.
    case storageType(name: String, dtype: DType?)
    case dtype(name: String, dtype: DType?)
    case tensorClass(name: String, isParameter: Bool)

    var qualifiedName: String {
        switch self {
        case .orderedDict: return "collections.OrderedDict"
        case .set: return "builtins.set"
        case .frozenset: return "builtins.frozenset"
        case .torchSize: return "torch.Size"
        case .codecsEncode: return "_codecs.encode"
        case .rebuildTensor: return "torch._utils._rebuild_tensor"
        case .rebuildTensorV2: return "torch._utils._rebuild_tensor_v2"
        case .rebuildTensorV3: return "torch._utils._rebuild_tensor_v3"
        case .rebuildParameter: return "torch._utils._rebuild_parameter"
        case .rebuildParameterWithState: return "torch._utils._rebuild_parameter_with_state"
        case .rebuildFromTypeV2: return "torch._tensor._rebuild_from_type_v2"
        case let .storageType(name, _): return name == "UntypedStorage" ? "torch.storage.UntypedStorage" : "torch.\(name)"
        case let .dtype(name, _): return "torch.\(name)"
        case let .tensorClass(name, _): return name
        }
    }

    /// Functions that build a tensor from their arguments.
    var rebuildsTensor: Bool {
        switch self {
        case .rebuildTensor, .rebuildTensorV2, .rebuildTensorV3, .rebuildParameter, .rebuildParameterWithState,
            .rebuildFromTypeV2:
            return true
        default: return false
        }
    }
}

extension PickleInterpreter {
    // MARK: globals

    func resolve(module: String, name: String) throws(PickleError) -> PickleGlobal {
        let qualified = "\(module).\(name)"
        if let g = PickleGlobals.table[qualified] { return g }
        if let why = PickleGlobals.unsupported[qualified] { throw fail(.unsupported(why)) }
        throw fail(.forbiddenGlobal(qualified))
    }

    // MARK: calls

    /// REDUCE: `callable(*args)` for an allowlisted callable, producing the value it describes.
    mutating func call(_ callable: PickleNode, args: PickleNode, via opcode: String) throws(PickleError) -> PickleNode {
        guard case let .global(g) = callable else {
            throw fail(.forbiddenCall("\(opcode) on a \(callable.kindName) is not allowed (only allowlisted globals can be called)"))
        }
        guard case let .tuple(a, _) = args else {
            throw fail(.invalidArgument("\(opcode) arguments for \(g.qualifiedName) must be a tuple, got \(args.kindName)"))
        }
        func arity(_ counts: ClosedRange<Int>) throws(PickleError) {
            guard counts.contains(a.count) else {
                throw fail(.invalidArgument("\(g.qualifiedName) takes \(counts.lowerBound == counts.upperBound ? "\(counts.lowerBound)" : "\(counts.lowerBound)–\(counts.upperBound)") arguments, got \(a.count)"))
            }
        }
        switch g {
        case .orderedDict:
            try arity(0...1)
            dicts.append(PickleDictObject(ordered: true))
            let id = dicts.count - 1
            if a.count == 1 {
                for pair in try sequence(a[0], "OrderedDict argument") {
                    guard case let .tuple(kv, _) = pair, kv.count == 2 else {
                        throw fail(.invalidArgument("OrderedDict items must be (key, value) pairs"))
                    }
                    try setItem(id, kv[0], kv[1])
                }
            }
            return .dict(id)
        case .set, .frozenset:
            try arity(0...1)
            return try newSet(a.isEmpty ? [] : try sequence(a[0], "\(g.qualifiedName) argument"))
        case .torchSize:
            try arity(0...1)
            let dims = a.isEmpty ? [] : try sequence(a[0], "torch.Size argument")
            for d in dims {
                guard case .int = d else { throw fail(.invalidArgument("torch.Size holds a \(d.kindName), not an int")) }
            }
            return try makeTuple(dims)
        case .codecsEncode:
            try arity(2...2)
            guard case let .string(text) = a[0], case let .string(encoding) = a[1] else {
                throw fail(.invalidArgument("_codecs.encode takes (str, encoding)"))
            }
            guard encoding == "latin1" || encoding == "latin-1" else {
                throw fail(.invalidArgument("_codecs.encode with encoding \"\(encoding)\" (only latin1 is allowed)"))
            }
            try charge(text.utf8.count)
            var out: [UInt8] = []
            out.reserveCapacity(text.utf8.count)
            for scalar in text.unicodeScalars {
                guard scalar.value <= 0xFF else { throw fail(.invalidArgument("_codecs.encode: character beyond latin1")) }
                out.append(UInt8(scalar.value))
            }
            return .bytes(out)
        case .rebuildTensor, .rebuildTensorV2, .rebuildTensorV3:
            return .tensor(try rebuildTensor(g, a))
        case .rebuildParameter, .rebuildParameterWithState:
            try arity(g == .rebuildParameter ? 3...3 : 4...4)
            guard case var .tensor(t) = a[0] else {
                throw fail(.invalidArgument("\(g.qualifiedName) expects a tensor, got \(a[0].kindName)"))
            }
            t.requiresGrad = try boolValue(a[1], "requires_grad")
            t.isParameter = true
            return .tensor(t)
        case .rebuildFromTypeV2:
            try arity(4...4)
            guard case let .global(function) = a[0], function.rebuildsTensor else {
                throw fail(.forbiddenCall("_rebuild_from_type_v2 with function \(a[0].kindName) is not allowed"))
            }
            guard case let .global(.tensorClass(_, isParameter)) = a[1] else {
                throw fail(.forbiddenCall("_rebuild_from_type_v2 with type \(a[1].kindName) is not allowed (only torch.Tensor and Parameter)"))
            }
            // The state (Python attributes of the tensor) is data we do not need; it was read as plain values.
            guard case var .tensor(t) = try call(a[0], args: a[2], via: "_rebuild_from_type_v2") else {
                throw fail(.invalidArgument("_rebuild_from_type_v2 did not rebuild a tensor"))
            }
            if isParameter { t.isParameter = true }
            return .tensor(t)
        case .storageType, .dtype, .tensorClass:
            throw fail(.forbiddenCall("\(opcode) on \(g.qualifiedName) is not allowed"))
        }
    }

    /// NEWOBJ / NEWOBJ_EX: `cls.__new__(cls, *args)`, allowed only to make an empty OrderedDict.
    mutating func newObject(_ cls: PickleNode, args: PickleNode, kwargs: PickleNode?) throws(PickleError) -> PickleNode {
        let opcode = kwargs == nil ? "NEWOBJ" : "NEWOBJ_EX"
        guard case .global(.orderedDict) = cls else {
            throw fail(.forbiddenCall("\(opcode) on \(cls.kindName) is not allowed"))
        }
        guard case let .tuple(a, _) = args, a.isEmpty else {
            throw fail(.invalidArgument("\(opcode) for OrderedDict takes no arguments"))
        }
        if let kwargs {
            guard case let .dict(id) = kwargs, dicts[id].keys.isEmpty else {
                throw fail(.invalidArgument("\(opcode) for OrderedDict takes no keyword arguments"))
            }
        }
        dicts.append(PickleDictObject(ordered: true))
        return .dict(dicts.count - 1)
    }

    /// BUILD: `obj.__setstate__(state)`. Only an OrderedDict may receive state (a state dict's `_metadata`
    /// attribute); the state is read as data and dropped.
    mutating func build(on target: PickleNode, state: PickleNode) throws(PickleError) {
        guard case let .dict(id) = target, dicts[id].ordered else {
            throw fail(.forbiddenCall("BUILD on a \(target.kindName) is not allowed"))
        }
        switch state {
        case .none, .dict: return
        case let .tuple(parts, _) where parts.count == 2:
            for p in parts {
                switch p {
                case .none, .dict: continue
                default: throw fail(.invalidArgument("BUILD state holds a \(p.kindName)"))
                }
            }
        default:
            throw fail(.invalidArgument("BUILD state for an OrderedDict must be a dict, got \(state.kindName)"))
        }
    }

    /// BINPERSID with torch's storage id `('storage', storage class, key, location, numel)`.
    mutating func persistentLoad(_ pid: PickleNode) throws(PickleError) -> PickleNode {
        guard case let .tuple(a, _) = pid, a.count == 5, case .string("storage") = a[0] else {
            throw fail(.invalidArgument("unsupported persistent id \(pid.kindName) (expected ('storage', type, key, location, numel))"))
        }
        guard case let .global(.storageType(typeName, dtype)) = a[1] else {
            throw fail(.invalidArgument("persistent id names \(a[1].kindName), not a storage class"))
        }
        guard case let .string(key) = a[2], isValidStorageKey(key) else {
            throw fail(.invalidArgument("persistent id has an invalid storage key"))
        }
        guard case let .string(location) = a[3] else { throw fail(.invalidArgument("persistent id location is not a string")) }
        let count = try intValue(a[4], "storage size")
        let (_, overflow) = count.multipliedReportingOverflow(by: dtype?.byteWidth ?? 1)
        guard !overflow else { throw fail(.invalidArgument("storage \(key) size overflows")) }
        let ref = TorchStorageRef(key: key, typeName: typeName, dtype: dtype, count: count, location: location)
        if let seen = storages[key] {
            guard seen.dtype == ref.dtype, seen.count == ref.count else {
                throw fail(.invalidArgument("storage \(key) is declared twice with different types or sizes"))
            }
        } else {
            storages[key] = ref
        }
        return .storage(ref)
    }

    /// Storage keys name archive records: short, printable, no path separators.
    func isValidStorageKey(_ key: String) -> Bool {
        guard !key.isEmpty, key.utf8.count <= 256, key != ".", key != ".." else { return false }
        return key.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: "\\") }
    }

    /// `_rebuild_tensor(storage, offset, size, stride)`, `_v2(..., requires_grad, hooks[, metadata])`,
    /// `_v3(..., requires_grad, hooks, dtype[, metadata])`.
    mutating func rebuildTensor(_ g: PickleGlobal, _ a: [PickleNode]) throws(PickleError) -> TorchTensorRef {
        let name = g.qualifiedName
        let counts: ClosedRange<Int> = g == .rebuildTensor ? 4...4 : (g == .rebuildTensorV2 ? 6...7 : 7...8)
        guard counts.contains(a.count) else {
            throw fail(.invalidArgument("\(name) takes \(counts.lowerBound)–\(counts.upperBound) arguments, got \(a.count)"))
        }
        guard case let .storage(storage) = a[0] else {
            throw fail(.invalidArgument("\(name) expects a storage, got \(a[0].kindName)"))
        }
        let dtype: DType
        if g == .rebuildTensorV3 {
            guard case let .global(.dtype(dtypeName, tensorType)) = a[6] else {
                throw fail(.invalidArgument("\(name) expects a torch dtype, got \(a[6].kindName)"))
            }
            guard let tensorType else { throw fail(.unsupported("tensor dtype torch.\(dtypeName)")) }
            guard storage.dtype == nil || storage.dtype == tensorType else {
                throw fail(.invalidArgument("\(name): storage \(storage.key) is \(storage.typeName) but the tensor is torch.\(dtypeName)"))
            }
            dtype = tensorType
        } else {
            guard let storageType = storage.dtype else {
                throw fail(.invalidArgument("\(name) on an untyped storage (needs _rebuild_tensor_v3 and a dtype)"))
            }
            dtype = storageType
        }
        guard let width = dtype.byteWidth else { throw fail(.unsupported("sub-byte dtype \(dtype.rawValue)")) }
        let capacity = storage.dtype == nil ? storage.count / width : storage.count
        let offset = try intValue(a[1], "storage offset")
        let shape = try intList(a[2], "size")
        let strides = try intList(a[3], "stride")
        guard shape.count == strides.count else {
            throw fail(.invalidArgument("\(name): \(shape.count) sizes but \(strides.count) strides"))
        }
        guard shape.count <= limits.maxDimensions else {
            throw fail(.limitExceeded("tensor with \(shape.count) dimensions (at most \(limits.maxDimensions))"))
        }
        var elements = 1
        for d in shape {
            let (p, o) = elements.multipliedReportingOverflow(by: d)
            guard !o else { throw fail(.invalidArgument("\(name): size \(shape) overflows")) }
            elements = p
        }
        let (_, byteOverflow) = elements.multipliedReportingOverflow(by: width)
        guard !byteOverflow else { throw fail(.invalidArgument("\(name): size \(shape) overflows")) }
        if elements > 0 {
            // The view's last element, offset + Σ (size−1)·stride, must lie inside the storage.
            var last = offset
            for (d, s) in zip(shape, strides) {
                let (step, o1) = (d - 1).multipliedReportingOverflow(by: s)
                let (sum, o2) = last.addingReportingOverflow(step)
                guard !o1, !o2 else { throw fail(.invalidArgument("\(name): view extent overflows")) }
                last = sum
            }
            guard last < capacity else {
                throw fail(.invalidArgument(
                    "\(name): view (offset \(offset), size \(shape), stride \(strides)) reaches element \(last) of storage \(storage.key), which holds \(capacity)"))
            }
        } else {
            guard offset <= capacity else {
                throw fail(.invalidArgument("\(name): offset \(offset) is past the end of storage \(storage.key)"))
            }
        }
        var requiresGrad = false
        if a.count >= 5 { requiresGrad = try boolValue(a[4], "requires_grad") }
        if a.count >= 6 {
            switch a[5] {
            case .none, .dict: break
            default: throw fail(.invalidArgument("\(name): backward hooks must be an OrderedDict, got \(a[5].kindName)"))
            }
        }
        let metadataIndex = g == .rebuildTensorV3 ? 7 : 6
        if a.count > metadataIndex { try checkTensorMetadata(a[metadataIndex], name) }
        return TorchTensorRef(storage: storage, dtype: dtype, storageOffset: offset, shape: shape, strides: strides,
                              requiresGrad: requiresGrad, isParameter: false)
    }

    /// Tensor metadata (`conj`/`neg` bits) must be absent or all false: a set bit would change the values.
    func checkTensorMetadata(_ node: PickleNode, _ name: String) throws(PickleError) {
        switch node {
        case .none: return
        case let .dict(id):
            for (k, v) in zip(dicts[id].keys, dicts[id].values) {
                switch v {
                case .bool(false), .none, .int(0): continue
                default:
                    let key: String
                    if case let .string(s) = k { key = s } else { key = k.kindName }
                    throw fail(.unsupported("\(name) with tensor metadata \"\(key)\" set (conjugate/negative views)"))
                }
            }
        default:
            throw fail(.invalidArgument("\(name): metadata must be a dict, got \(node.kindName)"))
        }
    }

    // MARK: argument helpers

    func intValue(_ node: PickleNode, _ what: String) throws(PickleError) -> Int {
        guard case let .int(v) = node, v >= 0, let i = Int(exactly: v) else {
            throw fail(.invalidArgument("\(what) must be a non-negative integer, got \(node.kindName)"))
        }
        return i
    }

    func boolValue(_ node: PickleNode, _ what: String) throws(PickleError) -> Bool {
        switch node {
        case let .bool(b): return b
        case .int(0): return false
        case .int(1): return true
        default: throw fail(.invalidArgument("\(what) must be a bool, got \(node.kindName)"))
        }
    }

    /// Items of a tuple, list, or set.
    func sequence(_ node: PickleNode, _ what: String) throws(PickleError) -> [PickleNode] {
        switch node {
        case let .tuple(items, _): return items
        case let .list(id): return lists[id]
        case let .set(id): return sets[id].members
        default: throw fail(.invalidArgument("\(what) must be a sequence, got \(node.kindName)"))
        }
    }

    func intList(_ node: PickleNode, _ what: String) throws(PickleError) -> [Int] {
        var out: [Int] = []
        for item in try sequence(node, what) { out.append(try intValue(item, "\(what) entry")) }
        return out
    }

    // MARK: output

    /// Copies the result out of the machine's tables into an immutable tree, refusing self-references, nesting
    /// deeper than the limit, and more nodes than the budget (shared references are copied, so a small pickle
    /// could otherwise describe an exponentially large tree).
    mutating func materializeRoot(_ root: PickleNode) throws(PickleError) -> PickleValue {
        opcodeStart = position
        var state = MaterializeState(
            visitingLists: Array(repeating: false, count: lists.count),
            visitingDicts: Array(repeating: false, count: dicts.count),
            visitingSets: Array(repeating: false, count: sets.count))
        return try materialize(root, depth: 0, &state)
    }

    struct MaterializeState {
        var visitingLists: [Bool]
        var visitingDicts: [Bool]
        var visitingSets: [Bool]
        var nodes = 0
    }

    private func materialize(_ node: PickleNode, depth: Int, _ state: inout MaterializeState) throws(PickleError) -> PickleValue {
        state.nodes += 1
        guard state.nodes <= nodeBudget else {
            throw fail(.limitExceeded("the value has more than \(nodeBudget) parts (shared references are copied)"))
        }
        func nested() throws(PickleError) {
            guard depth < limits.maxDepth else { throw fail(.limitExceeded("containers nested deeper than \(limits.maxDepth)")) }
        }
        let recursive = PickleError.Problem.limitExceeded("a container contains itself")
        switch node {
        case .none: return .none
        case let .bool(b): return .bool(b)
        case let .int(i): return .int(i)
        case let .float(d): return .float(d)
        case let .string(s): return .string(s)
        case let .bytes(b): return .bytes(b)
        case let .storage(s): return .storage(s)
        case let .tensor(t): return .tensor(t)
        case let .global(g):
            if case let .dtype(name, dtype) = g { return .dtype(name: name, dtype) }
            return .global(g.qualifiedName)
        case let .tuple(items, _):
            try nested()
            var out: [PickleValue] = []
            out.reserveCapacity(items.count)
            for item in items { out.append(try materialize(item, depth: depth + 1, &state)) }
            return .tuple(out)
        case let .list(id):
            try nested()
            guard !state.visitingLists[id] else { throw fail(recursive) }
            state.visitingLists[id] = true
            defer { state.visitingLists[id] = false }
            var out: [PickleValue] = []
            out.reserveCapacity(lists[id].count)
            for item in lists[id] { out.append(try materialize(item, depth: depth + 1, &state)) }
            return .list(out)
        case let .set(id):
            try nested()
            guard !state.visitingSets[id] else { throw fail(recursive) }
            state.visitingSets[id] = true
            defer { state.visitingSets[id] = false }
            var out: [PickleValue] = []
            for item in sets[id].members { out.append(try materialize(item, depth: depth + 1, &state)) }
            return .set(out)
        case let .dict(id):
            try nested()
            guard !state.visitingDicts[id] else { throw fail(recursive) }
            state.visitingDicts[id] = true
            defer { state.visitingDicts[id] = false }
            let d = dicts[id]
            var entries: [PickleDict.Entry] = []
            entries.reserveCapacity(d.keys.count)
            for (k, v) in zip(d.keys, d.values) {
                entries.append(PickleDict.Entry(key: try materialize(k, depth: depth + 1, &state),
                                                value: try materialize(v, depth: depth + 1, &state)))
            }
            return .dict(PickleDict(entries: entries, isOrdered: d.ordered))
        }
    }
}
