import Foundation

/// Opt-in wall-clock accounting of model stages (`IPET_PROFILE=1`), printed by `report()`. Costs one branch
/// per stage when off. For finding where time goes, not for tests.
public enum StageTimer {
    public static let enabled = ProcessInfo.processInfo.environment["IPET_PROFILE"] == "1"
    nonisolated(unsafe) private static var totals: [String: (seconds: Double, calls: Int)] = [:]
    private static let lock = NSLock()

    @inline(__always)
    public static func measure<T>(_ label: String, _ body: () throws -> T) rethrows -> T {
        guard enabled else { return try body() }
        let start = DispatchTime.now().uptimeNanoseconds
        defer {
            let s = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            lock.lock()
            let old = totals[label] ?? (0, 0)
            totals[label] = (old.seconds + s, old.calls + 1)
            lock.unlock()
        }
        return try body()
    }

    /// The accumulated table, slowest first.
    public static func report() -> String {
        lock.lock()
        defer { lock.unlock() }
        return totals.sorted { $0.value.seconds > $1.value.seconds }
            .map { $0.key.padding(toLength: 28, withPad: " ", startingAt: 0) + String(format: "%9.3f s %7d calls", $0.value.seconds, $0.value.calls) }
            .joined(separator: "\n")
    }
}
