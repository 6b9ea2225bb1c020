import IPETFormats

/// A `preprocessor_config.json` that cannot configure a feature extractor: which file (when read from one),
/// which key, and what is wrong with it.
public struct PreprocessorConfigError: LocatedError, Equatable, Sendable {
    public let path: String?
    public let key: String?
    public let reason: String

    public init(path: String? = nil, key: String?, reason: String) {
        self.path = path
        self.key = key
        self.reason = reason
    }

    /// The same error, attributed to the file it came from.
    func located(at path: String) -> PreprocessorConfigError {
        PreprocessorConfigError(path: path, key: key, reason: reason)
    }

    public var file: String? { path }
    public var detail: String { (key.map { "\"\($0)\" " } ?? "") + reason }

    public var description: String { (path ?? "preprocessor config") + ": " + detail }
}
