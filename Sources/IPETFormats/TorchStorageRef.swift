

/// A storage named by a `BINPERSID` persistent id `('storage', <storage type>, key, location, numel)`: its bytes
/// are the archive record `<archive>/data/<key>`.
public struct TorchStorageRef: Sendable, Equatable {
    public let key: String
    /// The storage class name, e.g. `FloatStorage`, or `UntypedStorage` (bytes; the tensor names the dtype).
    public let typeName: String
    /// Element type of a typed storage; nil for `UntypedStorage`.
    public let dtype: DType?
    /// Declared size: elements for a typed storage, bytes for an untyped one.
    public let count: Int
    /// Where the storage lived when saved (`cpu`, `cuda:0`, ...); informative only.
    public let location: String

    public init(key: String, typeName: String, dtype: DType?, count: Int, location: String) {
        self.key = key
        self.typeName = typeName
        self.dtype = dtype
        self.count = count
        self.location = location
    }

    /// Declared size in bytes (overflow-checked when the reference was read).
    public var byteCount: Int { count * (dtype?.byteWidth ?? 1) }
}
