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

    /// Creates `path.tmp-PID`, lets `body` write into its descriptor, fsyncs and renames.
    public static func write(to path: String, body: (Int32) throws(FileError) -> Void) throws(FileError) {
        let temp = "\(path).tmp-\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
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
            unlink(temp)
            throw FileError(path: path, reason: MappedFile.errnoText("cannot rename into place"))
        }
    }

    public static func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, path: String) throws(FileError) {
        let failure = POSIXFile.writeAll(fd, buffer)
        guard failure == 0 else { throw FileError(path: path, reason: "cannot write: \(String(cString: strerror(failure)))") }
    }
}
