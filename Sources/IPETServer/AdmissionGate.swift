import Foundation

/// Counts requests admitted and not yet taken into a batch, and refuses more than the limit: a full queue answers
/// 503 at once instead of letting latency and memory grow without bound.
final class AdmissionGate: @unchecked Sendable {
    private let lock = NSLock()
    private var waiting = 0
    private(set) var admittedTotal = 0
    private(set) var answeredTotal = 0
    let limit: Int
    let onChange: @Sendable (Int) -> Void

    init(limit: Int, onChange: @escaping @Sendable (Int) -> Void) {
        self.limit = limit
        self.onChange = onChange
    }

    /// Takes a place in the queue; false when it is full.
    func enter() -> Bool {
        lock.lock()
        guard waiting < limit else { lock.unlock(); return false }
        waiting += 1
        admittedTotal += 1
        let n = waiting
        lock.unlock()
        onChange(n)
        return true
    }

    /// Gives the place back (taken into a batch, failed before, or timed out).
    func leave() {
        lock.lock()
        waiting -= 1
        let n = waiting
        lock.unlock()
        onChange(n)
    }

    /// An admitted request got its answer (of whatever status).
    func answered() {
        lock.lock()
        answeredTotal += 1
        lock.unlock()
    }

    /// Requests holding a place now.
    var waitingCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return waiting
    }

    var counts: (admitted: Int, answered: Int) {
        lock.lock()
        defer { lock.unlock() }
        return (admittedTotal, answeredTotal)
    }
}
