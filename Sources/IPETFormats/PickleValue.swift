/// A value produced by `PickleMachine`: plain data, never a live object.
///
/// Containers are copied out of the machine's object table once the pickle has been read, so a value is an
/// ordinary immutable tree (shared references become copies; self-referencing containers are refused).
/// Whitelisted "calls" appear as the Swift value they describe: a tensor rebuild is a `TorchTensorRef`, an
/// `OrderedDict()` a dictionary, `torch.Size(...)` a tuple.
public enum PickleValue: Sendable, Equatable {
    case none
    case bool(Bool)
    case int(Int64)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    case list([PickleValue])
    /// `set` / `frozenset` members in insertion order.
    case set([PickleValue])
    case dict(PickleDict)
    case tensor(TorchTensorRef)
    /// A storage that no tensor wrapped (e.g. a bare `torch.save(storage)`).
    case storage(TorchStorageRef)
    /// A `torch.<dtype>` object such as `torch.float16` (the torch spelling, and our `DType` when there is one).
    case dtype(name: String, DType?)
    /// A whitelisted class or function used as a value, by its qualified name (e.g. `torch.Tensor`).
    case global(String)

    public var string: String? {
        if case let .string(s) = self { return s }
        return nil
    }

    public var int: Int64? {
        if case let .int(i) = self { return i }
        return nil
    }

    public var dict: PickleDict? {
        if case let .dict(d) = self { return d }
        return nil
    }

    public var tensor: TorchTensorRef? {
        if case let .tensor(t) = self { return t }
        return nil
    }

    /// Member of a dictionary with a string key.
    public subscript(key: String) -> PickleValue? {
        dict?[key]
    }

    /// A short name of the value's kind, for messages ("dict", "tensor", ...).
    public var kindName: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes: return "bytes"
        case .tuple: return "tuple"
        case .list: return "list"
        case .set: return "set"
        case let .dict(d): return d.isOrdered ? "OrderedDict" : "dict"
        case .tensor: return "tensor"
        case .storage: return "storage"
        case .dtype: return "dtype"
        case let .global(name): return name
        }
    }
}

/// A dictionary in insertion order. Keys are scalars or tuples of scalars; keys that Python would treat as equal
/// across types (`1`, `1.0`, `True`) are kept apart here.
public struct PickleDict: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public let key: PickleValue
        public let value: PickleValue

        public init(key: PickleValue, value: PickleValue) {
            self.key = key
            self.value = value
        }
    }

    public var entries: [Entry]
    /// `collections.OrderedDict` rather than a plain `dict`.
    public var isOrdered: Bool

    public init(entries: [Entry], isOrdered: Bool) {
        self.entries = entries
        self.isOrdered = isOrdered
    }

    public var count: Int { entries.count }

    public subscript(key: String) -> PickleValue? {
        entries.first(where: { $0.key == .string(key) })?.value
    }

    /// The string keys, in order (other keys are skipped).
    public var stringKeys: [String] { entries.compactMap(\.key.string) }
}

/// Resource bounds for `PickleMachine`. The defaults are far above what any state dict needs.
public struct PickleLimits: Sendable {
    /// Deepest nesting of containers (a state dict inside a checkpoint dict is 3 or 4 deep).
    public var maxDepth: Int = 64
    /// Most values on the stack at once.
    public var maxStack: Int = 1 << 22
    /// Most memo entries.
    public var maxMemo: Int = 1 << 22
    /// Most nodes in the output tree, where a value referenced twice counts twice. Nil: 4 per input byte + 4096,
    /// which a pickle without shared references can never exceed.
    public var maxNodes: Int?
    /// Most tensor dimensions.
    public var maxDimensions: Int = 64

    public init() {}

    public static let `default` = PickleLimits()
}
