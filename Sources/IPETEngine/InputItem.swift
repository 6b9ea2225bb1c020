import Foundation
import IPETFormats

/// One audio input: where to read it, how to name it in the output, and its label when a manifest or a
/// class folder gives one.
public struct InputItem: Sendable, Equatable {
    /// The path as text, for messages and for libraries that take text (the name's bytes when they are UTF-8).
    public let path: String
    /// The file-system path, byte for byte: what is opened (names need not be UTF-8).
    public let fileSystemPath: [UInt8]
    /// Name in the output records: the path as given on the command line or in the manifest (folder entries as
    /// `folder/relative/path`), tidied and escaped by `PathText`, so it is stable across runs and machines.
    public let name: String
    /// Labels from a manifest (`;`-separated for multi-label) or the class folder.
    public let labels: [String]
    /// What `Shard` hashes: the same for every spelling of the same input (a folder entry's path inside the folder,
    /// a manifest row's path as written, an explicit file's name), so that N jobs always partition the inputs.
    public let shardKey: String

    public init(path: String, name: String? = nil, labels: [String] = [], shardKey: String? = nil) {
        self.init(fileSystemPath: Array(path.utf8), name: name, labels: labels, shardKey: shardKey)
    }

    public init(fileSystemPath: [UInt8], name: String? = nil, labels: [String] = [], shardKey: String? = nil) {
        self.fileSystemPath = fileSystemPath
        path = String(validating: fileSystemPath, as: UTF8.self) ?? PathText.escape(fileSystemPath)
        self.name = name ?? PathText.escape(PathText.tidy(fileSystemPath))
        self.labels = labels
        self.shardKey = shardKey ?? PathText.escape(fileSystemPath.split(separator: UInt8(ascii: "/")).last.map(Array.init) ?? fileSystemPath)
    }
}
