import Foundation
import IPETEngine

/// One admitted classify or embed request on its way through the batcher: the runner that holds its pack
/// snapshots and options, its prepared input, and the one place its answer (or its failure) is delivered.
/// Delivery happens once; a request that timed out or whose client went away is cancelled, and the batcher then
/// drops it instead of computing it.
final class InferenceJob: @unchecked Sendable {
    let runner: BatchRunner
    /// Jobs with equal keys have the same tasks (the same snapshots) and options, so they can share a batch.
    let key: String
    /// Set once the input is decoded, before the job is submitted.
    var prepared: BatchRunner.PreparedInput!
    let admitted = ContinuousClock.now
    private let lock = NSLock()
    private var continuation: CheckedContinuation<BatchRunner.InputResult, any Error>?
    private var outcome: Result<BatchRunner.InputResult, any Error>?
    private var place: AdmissionGate?

    init(runner: BatchRunner, key: String, place: AdmissionGate) {
        self.runner = runner
        self.key = key
        self.place = place
    }

    var windows: Int { prepared.windowCount }

    var isCancelled: Bool {
        lock.lock()
        defer { lock.unlock() }
        return outcome != nil
    }

    /// Gives back the request's place in the queue (once, whoever calls first).
    func releasePlace() {
        lock.lock()
        let gate = place
        place = nil
        lock.unlock()
        gate?.leave()
    }

    /// Waits for the answer; cancelling the waiting task cancels the job.
    func result() async throws -> BatchRunner.InputResult {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<BatchRunner.InputResult, any Error>) in
                lock.lock()
                if let outcome {
                    lock.unlock()
                    c.resume(with: outcome)
                } else {
                    continuation = c
                    lock.unlock()
                }
            }
        } onCancel: {
            finish(.failure(CancellationError()))
        }
    }

    /// Delivers the outcome; later calls do nothing.
    func finish(_ result: Result<BatchRunner.InputResult, any Error>) {
        lock.lock()
        guard outcome == nil else { lock.unlock(); return }
        outcome = result
        let c = continuation
        continuation = nil
        lock.unlock()
        c?.resume(with: result)
    }
}
