import Foundation

/// Answers 504 for requests still unanswered at their deadline, on a thread of its own, so that a timeout fires
/// on time while the compute thread is busy with a long batch. Every request has the same timeout, so deadlines
/// come in admission order and a FIFO is all the bookkeeping: a request costs one append, and the thread sleeps
/// until the oldest unanswered deadline.
final class DeadlineWatch: @unchecked Sendable {
    private struct Entry {
        weak var job: InferenceJob?
        let deadline: ContinuousClock.Instant
    }

    private let condition = NSCondition()
    private var entries: [Entry] = []
    private var head = 0
    private var stopping = false
    private var thread: Thread?

    func start() {
        let thread = Thread { [self] in loop() }
        thread.name = "ipet-deadlines"
        self.thread = thread
        thread.start()
    }

    /// Ends the thread (jobs still watched are left to their own answers).
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    func watch(_ job: InferenceJob) {
        condition.lock()
        let wasEmpty = head == entries.count
        entries.append(Entry(job: job, deadline: job.deadline))
        if wasEmpty { condition.signal() }
        condition.unlock()
    }

    private func loop() {
        condition.lock()
        while !stopping {
            // Answered (or released) jobs at the front need nothing more.
            while head < entries.count, entries[head].job.map({ $0.isFinished }) ?? true { head += 1 }
            if head > 256, head * 2 > entries.count {
                entries.removeFirst(head)
                head = 0
            }
            guard head < entries.count else {
                condition.wait()
                continue
            }
            let first = entries[head]
            let now = ContinuousClock.now
            if first.deadline <= now {
                head += 1
                condition.unlock()
                _ = first.job?.expireIfLate(now: now)
                condition.lock()
            } else {
                let left = first.deadline - now
                let seconds = Double(left.components.seconds) + Double(left.components.attoseconds) / 1e18
                _ = condition.wait(until: Date(timeIntervalSinceNow: seconds))
            }
        }
        condition.unlock()
    }
}
