import Foundation

/// A fixed number of threads running submitted work in order: where uploads are decoded and packs read, off the
/// event loops, the Swift concurrency pool and the compute threads. Cheaper per item than an `OperationQueue`
/// (one lock and at most one wake-up), which matters when a request's whole model call takes a millisecond.
final class WorkerThreads: @unchecked Sendable {
    private let condition = NSCondition()
    private var work: [@Sendable () -> Void] = []
    private var head = 0
    private var idle = 0
    private var stopping = false
    private var started = false
    private let count: Int
    private let name: String

    init(count: Int, name: String) {
        self.count = max(1, count)
        self.name = name
    }

    func start() {
        condition.lock()
        defer { condition.unlock() }
        guard !started else { return }
        started = true
        for i in 0..<count {
            let thread = Thread { [self] in loop() }
            thread.name = "\(name)-\(i)"
            // Decoding and the fbank keep buffers on the stack, as `BatchRunner.run`'s producer thread.
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    /// Runs `body` on one of the threads; once stopped (or before start), on the caller's.
    func submit(_ body: @escaping @Sendable () -> Void) {
        condition.lock()
        guard started, !stopping else {
            condition.unlock()
            body()
            return
        }
        work.append(body)
        if idle > 0 { condition.signal() }
        condition.unlock()
    }

    /// Lets the threads finish what is queued, then end.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    private func loop() {
        condition.lock()
        while true {
            while head == work.count && !stopping {
                idle += 1
                condition.wait()
                idle -= 1
            }
            guard head < work.count else { break }
            let body = work[head]
            work[head] = {}  // what it captured (an upload) is released as soon as it has run
            head += 1
            if head > 64, head * 2 > work.count {
                work.removeFirst(head)
                head = 0
            }
            condition.unlock()
            body()
            condition.lock()
        }
        condition.unlock()
    }
}
