#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Opening a file for reading without ever blocking on it.
///
/// `open(2)` on a FIFO blocks until some process opens it for writing, and a device such as `/dev/zero` reads
/// forever: a tool that checks "is this a regular file?" only after opening hangs on them. So every file we read
/// (weights, packs, configs, manifests, trial lists, audio) is first checked with `stat` (which never blocks) and
/// then opened with `O_NONBLOCK` and checked again on the descriptor, so a file swapped in between cannot slip
/// through. Only regular files are read; everything else is an error that says what the path is.
public enum RegularFile {
    /// What a file mode describes, for messages ("a FIFO (named pipe)").
    public static func kind(of mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFREG: return "a regular file"
        case S_IFDIR: return "a folder"
        case S_IFIFO: return "a FIFO (named pipe)"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        case S_IFLNK: return "a symbolic link"
        default: return "not a regular file"
        }
    }

    /// Opens the file at the file-system path `bytes` (no NUL; any bytes, not only UTF-8) for reading; `name` is how
    /// errors name it. The returned descriptor is blocking again and must be closed by the caller.
    public static func open(bytes: [UInt8], name: String) throws(FileError) -> Int32 {
        let cPath = bytes.map { CChar(bitPattern: $0) } + [0]
        var before = stat()
        guard stat(cPath, &before) == 0 else { throw FileError(path: name, reason: errnoText("cannot open")) }
        try requireRegular(before.st_mode, name: name)
        let fd = systemOpen(cPath, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw FileError(path: name, reason: errnoText("cannot open")) }
        var after = stat()
        guard fstat(fd, &after) == 0 else {
            let reason = errnoText("cannot stat")
            close(fd)
            throw FileError(path: name, reason: reason)
        }
        do { try requireRegular(after.st_mode, name: name) } catch {
            close(fd)
            throw error
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        return fd
    }

    public static func open(_ path: String) throws(FileError) -> Int32 {
        try open(bytes: Array(path.utf8), name: path)
    }

    /// Throws unless `path` (after symlinks) is a regular file; never opens it.
    public static func check(_ path: String) throws(FileError) {
        var info = stat()
        guard stat(path, &info) == 0 else { throw FileError(path: path, reason: errnoText("cannot open")) }
        try requireRegular(info.st_mode, name: path)
    }

    /// The whole file, refused when longer than `limit` bytes (text side files: manifests, trial lists, labels).
    public static func read(_ path: String, limit: Int) throws(FileError) -> [UInt8] {
        try read(bytes: Array(path.utf8), name: path, limit: limit, prefixOnly: false)
    }

    /// At most the first `count` bytes (format sniffing).
    public static func prefix(_ path: String, count: Int) throws(FileError) -> [UInt8] {
        try read(bytes: Array(path.utf8), name: path, limit: count, prefixOnly: true)
    }

    private static func read(bytes path: [UInt8], name: String, limit: Int, prefixOnly: Bool) throws(FileError) -> [UInt8] {
        let fd = try open(bytes: path, name: name)
        defer { close(fd) }
        var info = stat()
        _ = fstat(fd, &info)
        if !prefixOnly, Int(info.st_size) > limit {
            throw FileError(path: name, reason: "is \(info.st_size) bytes, more than the \(limit) this file may hold")
        }
        let wanted = min(Int(info.st_size), limit)
        var out = [UInt8](repeating: 0, count: wanted)
        var done = 0
        while done < wanted {
            let n = out.withUnsafeMutableBytes { systemRead(fd, $0.baseAddress! + done, wanted - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError(path: name, reason: errnoText("cannot read"))
            }
            if n == 0 { break }  // shrank while we read
            done += n
        }
        return Array(out.prefix(done))
    }

    private static func requireRegular(_ mode: mode_t, name: String) throws(FileError) {
        guard mode & S_IFMT == S_IFREG else {
            throw FileError(path: name, reason: "is \(kind(of: mode)), not a regular file")
        }
    }

    static func errnoText(_ what: String) -> String { "\(what): \(String(cString: strerror(errno)))" }

    /// Why `path` cannot be looked at ("no such file or directory", "too many levels of symbolic links" for a link
    /// loop, "permission denied"), or nil when it can. Never opens it.
    public static func unreachable(_ path: String) -> String? {
        var info = stat()
        guard stat(path, &info) != 0 else { return nil }
        let text = String(cString: strerror(errno))
        return text.prefix(1).lowercased() + text.dropFirst()
    }
}

// The C library's `open` and `read`, spelled so that the static methods above do not shadow them.
#if canImport(Glibc)
    private func systemOpen(_ path: [CChar], _ flags: Int32) -> Int32 { Glibc.open(path, flags) }
    private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int { Glibc.read(fd, buffer, count) }
#else
    private func systemOpen(_ path: [CChar], _ flags: Int32) -> Int32 { Darwin.open(path, flags) }
    private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int { Darwin.read(fd, buffer, count) }
#endif
