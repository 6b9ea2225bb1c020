import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes a file atomically: the bytes go to a temporary file beside the target, which is then renamed over it,
/// so a reader that has the old file mapped never sees a half-written one.
public enum AtomicFile {
    public static func write(_ data: [UInt8], to path: String) throws(FileError) {
        try write(to: path) { (fd) throws(FileError) in
            var failure: FileError?
            data.withUnsafeBytes { buffer in
                do throws(FileError) { try writeAll(fd, buffer, path: path) } catch { failure = error }
            }
            if let failure { throw failure }
        }
    }

    /// Creates a fresh temporary file beside `path` (`temporaryPath(beside:)`), lets `body` write into its
    /// descriptor, fsyncs and renames it over `path`.
    public static func write(to path: String, body: (Int32) throws(FileError) -> Void) throws(FileError) {
        let temp = temporaryPath(beside: path)
        // O_EXCL: never write through a file or symlink someone else put under that name.
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileError(path: path, reason: MappedFile.errnoText("cannot create")) }
        do throws(FileError) {
            try body(fd)
            guard fsync(fd) == 0 else { throw FileError(path: path, reason: MappedFile.errnoText("cannot sync")) }
        } catch {
            close(fd)
            unlink(temp)
            throw error
        }
        close(fd)
        guard rename(temp, path) == 0 else {
            let reason = MappedFile.errnoText("cannot rename into place")
            unlink(temp)
            throw FileError(path: path, reason: reason)
        }
    }

    private static let temporaryCounter = Atomic<Int>(0)

    /// A name beside `path` that no other writer in this process or another uses: `path.tag-PID-N`, N counting
    /// up per process. Why not the PID alone: two threads writing the same target (a server, a library user) would
    /// open one temporary file, each truncating and renaming the other's bytes, so a writer that reported success
    /// could leave the other's content, or an empty file, in place.
    public static func temporaryPath(beside path: String, tag: String = "tmp") -> String {
        let n = temporaryCounter.wrappingAdd(1, ordering: .relaxed).newValue
        return "\(path).\(tag)-\(getpid())-\(n)"
    }

    public static func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, path: String) throws(FileError) {
        let failure = POSIXFile.writeAll(fd, buffer)
        guard failure == 0 else { throw FileError(path: path, reason: "cannot write: \(String(cString: strerror(failure)))") }
    }
}
