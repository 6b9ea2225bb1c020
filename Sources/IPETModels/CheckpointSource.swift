import IPETFormats

/// What a checkpoint path holds before it becomes a model: its weight files and every tensor in them (all dtypes,
/// in file order; a tensor's `load` reads it on demand where the format allows), with the first file's metadata.
/// `CheckpointImporter.read` makes one; `CheckpointImporter.load` turns it into an `ImportedCheckpoint`.
public struct CheckpointSource {
    /// The path as given: a weight file or a model folder.
    public let path: String
    public let isFolder: Bool
    /// Each weight file read, with its tensors.
    public let files: [(path: String, tensors: [SourceTensor])]
    /// The first file's string metadata (safetensors `__metadata__`, our HDF5 container's attributes).
    public let metadata: [(key: String, value: String)]
    /// Bytes on disk of all weight files.
    public let fileBytes: Int

    public init(path: String, isFolder: Bool, files: [(path: String, tensors: [SourceTensor])],
                metadata: [(key: String, value: String)], fileBytes: Int) {
        self.path = path
        self.isFolder = isFolder
        self.files = files
        self.metadata = metadata
        self.fileBytes = fileBytes
    }

    /// Every tensor of every file, in order.
    public var tensors: [SourceTensor] { files.flatMap(\.tensors) }

    public func metadataValue(_ key: String) -> String? { metadata.first(where: { $0.key == key })?.value }
}
