import Foundation

/// Why one input failed, as a line of text without the file name (records carry the file separately).
public struct PipelineFailure: Error, Sendable, CustomStringConvertible {
    public let message: String

    public init(_ error: Error, path: String) {
        let text = "\(error)"
        message = text.hasPrefix(path + ": ") ? String(text.dropFirst(path.count + 2)) : text
    }

    public var description: String { message }
}
