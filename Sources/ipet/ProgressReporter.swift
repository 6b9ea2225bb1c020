import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Progress on standard error: a bar redrawn in place when stderr is a terminal, a plain line every few seconds
/// otherwise, nothing with --quiet; and a one-line summary at the end.
final class ProgressReporter {
    private let total: Int
    private let quiet: Bool
    private let terminal: Bool
    private let started = DispatchTime.now().uptimeNanoseconds
    private var lastDraw: UInt64 = 0
    private(set) var done = 0
    private(set) var failed = 0
    private(set) var windows = 0

    init(total: Int, quiet: Bool) {
        self.total = total
        self.quiet = quiet
        terminal = isatty(STDERR_FILENO) == 1
    }

    var seconds: Double { Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9 }

    func advance(failed isFailure: Bool, windows count: Int) {
        done += 1
        if isFailure { failed += 1 }
        windows += count
        guard !quiet else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        let interval: UInt64 = terminal ? 100_000_000 : 10_000_000_000
        guard done == total || now - lastDraw >= interval else { return }
        lastDraw = now
        let rate = Double(done) / max(seconds, 1e-9)
        let eta = rate > 0 ? Double(total - done) / rate : 0
        if terminal {
            let width = 30
            let filled = total > 0 ? width * done / total : width
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            write(String(format: "\r[%@] %d/%d files, %.1f files/s, ETA %@ ", bar, done, total, rate, Self.duration(eta)))
            if done == total { write("\n") }
        } else {
            write(String(format: "ipet: %d/%d files, %d failed, %.1f files/s, ETA %@\n", done, total, failed, rate, Self.duration(eta)))
        }
    }

    func summary(skipped: Int = 0) {
        let s = seconds
        var line = String(format: "ipet: %d files, %d failed, %d windows, %.2f s, %.2f files/s", done, failed, windows, s, Double(done) / max(s, 1e-9))
        if skipped > 0 { line += ", \(skipped) already answered (resumed)" }
        write(line + "\n")
    }

    private func write(_ text: String) { FileHandle.standardError.write(Data(text.utf8)) }

    static func duration(_ s: Double) -> String {
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
    }
}
