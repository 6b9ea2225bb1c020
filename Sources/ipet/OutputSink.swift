import Foundation
import IPETFormats
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where records go: standard output or a file, one complete line per write so a killed run never leaves a
/// torn line behind (each line is written with a single write call and flushed).
///
/// A file is opened in place, never replaced: a symlink is written through and a device or pipe
/// (`-o /dev/stdout`) is written to, not renamed over. A regular file is locked for this process alone (a POSIX
/// write lock on the whole file), so two runs can never write one output: the second is refused, naming the
/// first's process id. The lock is taken before the file is read (`--resume`) or cut, so a refused run leaves it
/// exactly as it was. A failed write (a full disk, a closed pipe) ends the command with exit status 1 and a one-line
/// message, never a crash and never a quietly shortened output.
final class OutputSink: @unchecked Sendable {
    private let descriptor: Int32
    private let name: String
    private let closeAtEnd: Bool
    /// True for a regular file, which is locked and can be read back and cut.
    let isRegularFile: Bool

    /// Opens `path` (nil or "-" = standard output) without changing its content; `truncate(to:)` decides what stays.
    init(path: String?) throws {
        guard let path, path != "-" else {
            descriptor = STDOUT_FILENO
            name = "standard output"
            closeAtEnd = false
            isRegularFile = false
            return
        }
        if let inherited = Self.inheritedDescriptor(named: path) {
            // `-o /dev/stdout` and friends name a descriptor this process already has. Opening the name again
            // would open its file anew, without the shell's append mode and at offset 0 (`>> log` lost its old
            // lines), and the file behind it would be treated as ours: locked, cut, given a settings file beside
            // `/dev/stdout`. It is written through the descriptor instead, as a stream.
            let fd = fcntl(inherited, F_DUPFD_CLOEXEC, 0)
            guard fd >= 0 else { throw CommandError("\(path): cannot write: \(String(cString: strerror(errno)))") }
            descriptor = fd
            name = path
            closeAtEnd = true
            isRegularFile = false
            return
        }
        var info = stat()
        let special = stat(path, &info) == 0 && (info.st_mode & S_IFMT) != S_IFREG
        let fd = open(path, special ? O_WRONLY | O_CLOEXEC : O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw CommandError("\(path): cannot open for writing: \(String(cString: strerror(errno)))")
        }
        descriptor = fd
        name = path
        closeAtEnd = true
        isRegularFile = !special
        if isRegularFile {
            var lock = flock()
            lock.l_type = Int16(F_WRLCK)
            lock.l_whence = Int16(SEEK_SET)
            if fcntl(fd, F_SETLK, &lock) != 0 {
                var holder = flock()
                holder.l_type = Int16(F_WRLCK)
                holder.l_whence = Int16(SEEK_SET)
                let pid = fcntl(fd, F_GETLK, &holder) == 0 && holder.l_type != Int16(F_UNLCK) ? " (pid \(holder.l_pid))" : ""
                close(fd)
                throw CommandError("\(path): another ipet run\(pid) is writing it; wait for that run or choose another output")
            }
        }
    }

    /// Standard output.
    convenience init() { try! self.init(path: nil) }

    /// The file's current content (a regular file only).
    func existingContent() throws -> [UInt8] {
        guard isRegularFile else { return [] }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw CommandError("\(name): cannot stat: \(String(cString: strerror(errno)))") }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + done, $0.count - done, off_t(done)) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { break }
            done += n
        }
        return Array(bytes.prefix(done))
    }

    /// Keeps the first `length` bytes of a regular file (0: start it anew) and appends after them.
    /// The descriptor number `path` names when it is one of this process's own descriptors: /dev/stdin, stdout,
    /// stderr, /dev/fd/N, /proc/self/fd/N.
    static func inheritedDescriptor(named path: String) -> Int32? {
        switch path {
        case "/dev/stdout": return STDOUT_FILENO
        case "/dev/stderr": return STDERR_FILENO
        default:
            for prefix in ["/dev/fd/", "/proc/self/fd/", "/proc/\(getpid())/fd/"] where path.hasPrefix(prefix) {
                return Int32(path.dropFirst(prefix.count))
            }
            return nil
        }
    }

    func truncate(to length: Int) throws {
        guard isRegularFile else { return }
        guard ftruncate(descriptor, off_t(length)) == 0, lseek(descriptor, 0, SEEK_END) >= 0 else {
            throw CommandError("\(name): cannot truncate: \(String(cString: strerror(errno)))")
        }
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
