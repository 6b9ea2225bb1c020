#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file in memory-backed `/dev/shm` that a fuzz target rewrites with every input, for readers that take a path
/// (libhdf5, libsndfile, manifests). Why a file and not bytes: those readers open by name, and the point is to fuzz
/// exactly what the tool runs. The name carries the process id so parallel fuzzers (`-jobs`) do not share one; it is
/// removed when the process exits normally (a crash leaves it; it is at most one input large).
public final class ScratchFile: @unchecked Sendable {
    public let path: String

    /// `/dev/shm/ipet-fuzz-<name>-<pid>.<ext>`.
    public init(name: String, extension ext: String) {
        let folder = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
        path = "\(folder)/ipet-fuzz-\(name)-\(getpid()).\(ext)"
        ScratchFile.register(path)
    }

    /// Replaces the file's content with `bytes`; false (and a message) when it cannot be written.
    @discardableResult
    public func replace(with bytes: UnsafeRawBufferPointer) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            perror(path)
            return false
        }
        defer { close(fd) }
        var done = 0
        while done < bytes.count {
            let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0, errno == EINTR { continue }
            guard n > 0 else {
                perror(path)
                return false
            }
            done += n
        }
        return true
    }

    nonisolated(unsafe) private static var paths: [String] = []

    private static func register(_ path: String) {
        if paths.isEmpty { atexit { for p in ScratchFile.paths { unlink(p) } } }
        paths.append(path)
    }
}
