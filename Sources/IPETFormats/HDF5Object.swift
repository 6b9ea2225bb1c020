/// One object found by `HDF5File.walk`: where it is, what it is and, for a dataset, its checked shape, type and
/// storage. `HDF5File.floats(_:)` reads a dataset found this way without looking its path up again.
public struct HDF5Object: Sendable, Equatable {
    /// Link names from the root group, e.g. `["wav2vec2", "kernel:0"]`.
    public let components: [String]
    public let kind: HDF5ObjectKind
    /// A dataset's shape, element type and storage, with every size check applied; nil for other kinds.
    public let dataset: HDF5DatasetInfo?
    /// The object's identity in its file (object-header address, or token in libhdf5 ≥ 1.12): two links name one
    /// object exactly when their identities are equal.
    let identity: Identity

    /// The absolute HDF5 path, `/a/b`.
    public var path: String { "/" + components.joined(separator: "/") }

    /// 16 bytes from `shim_object_identity`.
    struct Identity: Hashable, Sendable {
        let low: UInt64
        let high: UInt64
    }
}
