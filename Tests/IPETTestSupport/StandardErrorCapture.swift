import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What the process writes to standard error while `body` runs, from any thread: descriptor 2 is pointed at a
/// temporary file for the duration (`dup2`) and restored after. For checks that a library prints nothing.
public enum StandardErrorCapture {
    public static func text(_ body: () throws -> Void) throws -> String {
        let path = Fixtures.temporaryDirectory("stderr").appendingPathComponent("captured-\(UUID().uuidString)").path
        let sink = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard sink >= 0 else { throw CocoaError(.fileWriteUnknown) }
        let saved = dup(2)
        guard saved >= 0 else {
            close(sink)
            throw CocoaError(.fileWriteUnknown)
        }
        fflush(nil)
        dup2(sink, 2)
        close(sink)
        defer {
            fflush(nil)
            dup2(saved, 2)
            close(saved)
        }
        try body()
        fflush(nil)
        return (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }
}
