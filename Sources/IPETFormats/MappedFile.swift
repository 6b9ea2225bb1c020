#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A read-only memory map of a whole file.
///
/// Weights stay in the page cache and are shared between processes; tensors that are already laid out as
/// little-endian F32 are used in place (whisper.cpp's "mmap first"). The mapping lives as long as this object.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let bytes: UnsafeRawBufferPointer
    private let base: UnsafeMutableRawPointer?

    public var count: Int { bytes.count }

    public init(path: String) throws(FileError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError(path: path, reason: Self.errnoText("cannot open")) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FileError(path: path, reason: Self.errnoText("cannot stat")) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw FileError(path: path, reason: "not a regular file")
        }
        let size = Int(info.st_size)
        if size == 0 {
            base = nil
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw FileError(path: path, reason: Self.errnoText("cannot map"))
        }
        base = mapped
        bytes = UnsafeRawBufferPointer(start: mapped, count: size)
    }

    deinit {
        if let base { munmap(base, bytes.count) }
    }

    static func errnoText(_ what: String) -> String {
        "\(what): \(String(cString: strerror(errno)))"
    }
}

/// An I/O failure, naming the file.
public struct FileError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let reason: String
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
    public var description: String { "\(path): \(reason)" }
}

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
        var offset = 0
        while offset < buffer.count {
            let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError(path: path, reason: MappedFile.errnoText("cannot write"))
            }
            offset += n
        }
    }
}
