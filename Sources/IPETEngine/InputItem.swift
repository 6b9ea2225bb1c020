import Foundation
import IPETFormats

/// One audio input: where to read it, how to name it in the output, and its label when a manifest or a
/// class folder gives one.
public struct InputItem: Sendable, Equatable {
    /// Path used to open the file.
    public let path: String
    /// Name in the output records: the path as given on the command line or in the manifest (folder entries as
    /// `folder/relative/path`), so it is stable across runs and machines.
    public let name: String
    /// Labels from a manifest (`;`-separated for multi-label) or the class folder.
    public let labels: [String]

    public init(path: String, name: String? = nil, labels: [String] = []) {
        self.path = path
        self.name = name ?? path
        self.labels = labels
    }
}
