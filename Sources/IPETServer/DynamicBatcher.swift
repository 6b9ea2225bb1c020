import Foundation
import IPETEngine
import IPETTensor

/// Groups concurrent requests into model calls and runs them on one compute thread. One batch at a time runs, with
/// the engine's own thread budget inside it, so requests never oversubscribe the compute threads however many
/// arrive. A batch is the oldest waiting request plus every later one with the same packs and options, up to
/// `maxBatch` windows. When the compute thread comes back from a batch it takes what queued meanwhile at once
/// (continuous batching: under load, batches fill by themselves while the previous one computes). Only when it was
/// idle does the first request wait, at most `wait` after it arrived, for others that are still being decoded to
/// join it (a lone request is computed at once: waiting for arrivals that may never come would only add latency).
/// Packs that share their front end share it inside a request's runner (`BatchRunner.process`).
final class DynamicBatcher: @unchecked Sendable {
    private let condition = NSCondition()
    private var waiting: [InferenceJob] = []
    private var stopping = false
    private var finished = false
    private let maxBatch: Int
    private let wait: Duration
    private let metrics: ServerMetrics
    /// Requests admitted and not yet taken into a batch, the queued ones included.
    private let admitted: @Sendable () -> Int
    private var thread: Thread?

    init(maxBatch: Int, wait: Duration, metrics: ServerMetrics, admitted: @escaping @Sendable () -> Int) {
        self.maxBatch = max(1, maxBatch)
        self.wait = wait
        self.metrics = metrics
        self.admitted = admitted
    }

    func start() {
        let thread = Thread { [self] in loop() }
        thread.name = "ipet-compute"
        // The engine's forward passes recurse a little and keep per-layer buffers on the stack, as `BatchRunner.run`'s.
        thread.stackSize = 8 << 20
        self.thread = thread
        thread.start()
    }

    func submit(_ job: InferenceJob) {
        condition.lock()
        waiting.append(job)
        condition.broadcast()
        condition.unlock()
    }

    /// Removes a job that will not be computed (timed out): its work is dropped.
    func withdraw(_ job: InferenceJob) {
        condition.lock()
        waiting.removeAll { $0 === job }
        condition.unlock()
    }

    /// Computes everything already submitted, then ends the compute thread; returns when it has ended.
    func drainAndStop() async {
        requestStop()
        while !hasFinished { try? await Task.sleep(for: .milliseconds(5)) }
    }

    private func requestStop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    private var hasFinished: Bool {
        condition.lock()
        defer { condition.unlock() }
        return finished || thread == nil
    }

    private func loop() {
        let workspace = Workspace()
        var idle = true
        while let batch = nextBatch(afterIdle: idle) {
            // Requests answered meanwhile (timed out, client gone) are dropped, and so are those now past their
            // deadline: no work is spent on an answer nobody will get.
            let now = ContinuousClock.now
            let live = batch.filter { !$0.expireIfLate(now: now) }
            guard !live.isEmpty else { continue }
            metrics.recordBatch(requests: live.count)
            let results = live[0].runner.process(live.map { $0.prepared! }, workspace: workspace)
            for (job, result) in zip(live, results) { job.finish(.success(result)) }
            idle = false
        }
        condition.lock()
        finished = true
        condition.unlock()
    }

    /// Waits for work and takes a batch out of the queue; nil once stopping and empty. `afterIdle`: the compute
    /// thread found nothing to do last time, so a first request may wait up to `wait` for others to join it.
    private func nextBatch(afterIdle: Bool) -> [InferenceJob]? {
        condition.lock()
        defer { condition.unlock() }
        var idle = afterIdle
        while true {
            if waiting.isEmpty && !stopping { idle = true }
            while waiting.isEmpty && !stopping { condition.wait() }
            if waiting.isEmpty { return nil }
            let first = waiting[0]
            if idle {
                let deadline = Date(timeIntervalSinceNow: max(0, Self.seconds(wait - (ContinuousClock.now - first.admitted))))
                while !stopping, waiting.first === first, windows(sharing: first.key) < maxBatch, admitted() > waiting.count,
                      condition.wait(until: deadline) {}
                // The first job may have been withdrawn while waiting: start over with the new oldest.
                guard waiting.first === first else { continue }
            }
            var batch: [InferenceJob] = []
            var rest: [InferenceJob] = []
            var count = 0
            for job in waiting {
                if job.key == first.key, batch.isEmpty || count + job.windows <= maxBatch {
                    batch.append(job)
                    count += job.windows
                } else {
                    rest.append(job)
                }
            }
            waiting = rest
            for job in batch { job.releasePlace() }
            return batch
        }
    }

    private func windows(sharing key: String) -> Int {
        waiting.reduce(0) { $0 + ($1.key == key ? $1.windows : 0) }
    }

    private static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
