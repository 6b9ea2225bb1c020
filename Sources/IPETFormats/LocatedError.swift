/// An error about one file (or folder), told in two parts so that a caller which already names the file (a
/// record with a `file` field, a list of failed inputs) can show what is wrong without repeating it: the whole
/// message is `"<file>: <detail>"`.
///
/// Every error type that names a file conforms, in every layer, so `detail(of:about:)` is the one place that
/// decides how an error reads next to a file name.
public protocol LocatedError: Error, CustomStringConvertible {
    /// The file or folder the error is about, spelled as the caller gave it; nil when it is about no file.
    var file: String? { get }
    /// What is wrong, without the file name.
    var detail: String { get }
}

extension LocatedError {
    public var description: String { file.map { "\($0): \(detail)" } ?? detail }
}

/// How `error` reads next to `path`: its detail when it is about that very file, else its whole message (it is
/// about another file, such as a pack or a config, or about no file). An error type from outside this package
/// that follows the same `"<file>: …"` convention in its description is recognised by that prefix.
public func detail(of error: any Error, about path: String) -> String {
    if let located = error as? any LocatedError { return located.file == path ? located.detail : located.description }
    let text = "\(error)"
    return text.hasPrefix(path + ": ") ? String(text.dropFirst(path.count + 2)) : text
}
