#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The few POSIX calls that need the C library's module name spelled out (a type's own `write` method would
/// otherwise shadow them), behind one portable name.
public enum POSIXFile {
    /// Writes all of `buffer` to `fd`, retrying short writes and `EINTR`. Returns 0, or the `errno` of the failure.
    public static func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) -> Int32 {
        var offset = 0
        while offset < buffer.count {
            #if canImport(Glibc)
                let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            #else
                let n = Darwin.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            #endif
            if n < 0 {
                if errno == EINTR { continue }
                return errno
            }
            offset += n
        }
        return 0
    }
}
