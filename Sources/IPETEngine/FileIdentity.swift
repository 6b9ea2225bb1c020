import Foundation

/// Which file a path names, the one rule every batch command uses to tell inputs apart: a fresh run keeps the first
/// spelling of each file and drops the others (`InputCatalog.expand`), and `--resume` matches the records already
/// written to the inputs by the same rule. Two spellings are one file when they resolve to the same real path
/// (symlinks, `.` and `..` resolved, so `in/a.wav`, `in/../in/a.wav`, `$PWD/in/a.wav`, a path through a symlinked
/// folder and a symlink to `in/a.wav` are all one file); a path that does not resolve (a missing file, a dangling
/// link) is its tidied absolute path.
public enum FileIdentity {
    /// The identity of `path` (relative paths are taken from the current folder).
    public static func of(_ path: [UInt8]) -> [UInt8] {
        let cPath = path.map { CChar(bitPattern: $0) } + [0]
        if let resolved = realpath(cPath, nil) {
            defer { free(resolved) }
            return Array(UnsafeBufferPointer(start: UnsafeRawPointer(resolved).assumingMemoryBound(to: UInt8.self), count: strlen(resolved)))
        }
        let cwd = Array(FileManager.default.currentDirectoryPath.utf8)
        return PathText.tidy(path.first == UInt8(ascii: "/") ? path : cwd + [UInt8(ascii: "/")] + path)
    }

    /// The identity of a folder given as text (nil when it does not resolve).
    public static func ofFolder(_ path: String) -> [UInt8]? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return Array(UnsafeBufferPointer(start: UnsafeRawPointer(resolved).assumingMemoryBound(to: UInt8.self), count: strlen(resolved)))
    }
}
