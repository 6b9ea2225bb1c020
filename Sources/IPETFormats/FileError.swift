/// A problem with a file that no format-specific error describes: it cannot be opened, read or written, it is
/// not a regular file, or what it holds does not fit what the caller needs. The file's own layer says what is
/// wrong; a caller that already names the file shows `detail` alone.
public struct FileError: LocatedError, Sendable {
    public let path: String
    public let reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var file: String? { path }
    public var detail: String { reason }
}
