#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Makes sure descriptors 0, 1 and 2 are open before the tool opens anything.
///
/// Why: `open` returns the lowest free descriptor. Started with standard error closed (`ipet ... 2>&-`), the first
/// file the tool opened, the output file, became descriptor 2, and every progress and log line meant for standard
/// error was written into the records; with standard output closed, an input or the output file became
/// descriptor 1. Each closed one is pointed at `/dev/null` instead (what a shell user who closes it means: "I do
/// not want this stream"). Runs first in `main`, before any thread or file exists.
enum StandardDescriptors {
    static func reserve() {
        for descriptor: Int32 in 0...2 where fcntl(descriptor, F_GETFD) == -1 && errno == EBADF {
            let null = open("/dev/null", descriptor == 0 ? O_RDONLY : O_WRONLY)
            // `open` took the lowest free number, which is `descriptor` unless a lower one was closed too and
            // was just filled by an earlier round; any other number is moved into place.
            if null >= 0, null != descriptor {
                dup2(null, descriptor)
                close(null)
            }
        }
    }
}
