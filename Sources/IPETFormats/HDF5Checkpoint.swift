/// Any HDF5 weights input, told apart by content: a TensorFlow/Keras checkpoint (root `layer_names` attribute, or
/// a shard index / folder) or our tensor container. The single entry point for importers.
public enum HDF5Checkpoint: Sendable {
    case keras(TFCheckpoint)
    case container(HDF5TensorContainer)

    /// One tensor in PyTorch names and layout.
    public struct Tensor: Sendable, Equatable {
        public let name: String
        public let shape: [Int]
        public let values: [Float]
        /// The type stored in the file (the values are always Float32).
        public let storedDType: DType
    }

    /// Reads `path`: a folder with `tf_model.h5` or `tf_model.h5.index.json`, a shard index, a Keras `.h5` (whole
    /// file or single shard), or a tensor container.
    public init(path: String) throws(HDF5Error) {
        if path.hasSuffix(".json") || TFCheckpoint.isDirectory(path) {
            self = .keras(try TFCheckpoint(path: path))
            return
        }
        let file = try HDF5File(path: path)
        if try TFCheckpoint.isKerasWeights(file) {
            self = .keras(try TFCheckpoint(path: path))
        } else {
            self = .container(try HDF5TensorContainer(file: file))
        }
    }

    /// Every tensor, in file order.
    public var tensors: [Tensor] {
        switch self {
        case let .keras(checkpoint):
            return checkpoint.weights.map { Tensor(name: $0.name, shape: $0.shape, values: $0.values, storedDType: $0.storedDType) }
        case let .container(container):
            return container.tensors.map { Tensor(name: $0.name, shape: $0.shape, values: $0.values, storedDType: $0.dtype) }
        }
    }

    /// The container's metadata (same pairs as safetensors `__metadata__`); Keras files have none.
    public var metadata: [(key: String, value: String)] {
        switch self {
        case .keras: return []
        case let .container(container): return container.metadata
        }
    }

    public func metadataValue(_ key: String) -> String? {
        metadata.first(where: { $0.key == key })?.value
    }
}
