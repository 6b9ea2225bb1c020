import Foundation

/// Serialises libsndfile's open and close calls process-wide.
///
/// Why: a failed `sf_open` leaves its reason in a global read back by `sf_strerror(NULL)`, so open + message
/// must be atomic to pair the message with the right file; and the codec libraries behind some formats
/// (mpg123, LAME) have process-wide set-up and tear-down that are not documented as thread-safe. Reading and
/// writing frames on distinct handles needs no lock.
enum SndFileLock {
    private static let lock = NSLock()

    static func withLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}
