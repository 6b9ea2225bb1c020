import Foundation
import IPETFormats
#if canImport(Glibc)
import Glibc
#endif

/// Where records go: standard output or a file, one complete line per write so a killed run never leaves a
/// torn line behind (each line is written with a single write call and flushed).
///
/// A file is opened in place (`O_TRUNC`, or `O_APPEND` to resume), never replaced: a symlink is written
/// through and a device or pipe (`-o /dev/stdout`) is written to, not renamed over. A failed write (a full
/// disk, a closed pipe) ends the command with exit status 1 and a one-line message, never a crash and never a
/// quietly shortened output.
final class OutputSink: Sendable {
    private let descriptor: Int32
    private let name: String
    private let closeAtEnd: Bool

    init(path: String?, append: Bool = false) throws {
        if let path, path != "-" {
            var info = stat()
            let special = stat(path, &info) == 0 && (info.st_mode & S_IFMT) != S_IFREG
            let flags = O_WRONLY | O_CLOEXEC | (special ? 0 : O_CREAT | (append ? O_APPEND : O_TRUNC))
            let fd = open(path, flags, 0o644)
            guard fd >= 0 else {
                throw CommandError("\(path): cannot open for writing: \(String(cString: strerror(errno)))")
            }
            descriptor = fd
            name = path
            closeAtEnd = true
        } else {
            descriptor = STDOUT_FILENO
            name = "standard output"
            closeAtEnd = false
        }
    }

    /// Standard output.
    init() {
        descriptor = STDOUT_FILENO
        name = "standard output"
        closeAtEnd = false
    }

    func writeLine(_ line: String) {
        write(line + "\n")
    }

    /// Writes `text` with one write call (whole records at once), unbuffered.
    func write(_ text: String) {
        guard !text.isEmpty else { return }
        let failure = Array(text.utf8).withUnsafeBytes { POSIXFile.writeAll(descriptor, $0) }
        if failure != 0 {
            FileHandle.standardError.write(Data("error: cannot write to \(name): \(String(cString: strerror(failure)))\n".utf8))
            exit(1)
        }
    }

    deinit {
        if closeAtEnd { close(descriptor) }
    }
}
