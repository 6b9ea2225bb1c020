import Foundation
import IPETEngine

/// One admitted classify or embed request on its way through the server: its upload, the runner that holds its
/// pack snapshots and options, its prepared input once decoded, its deadline, and the one place its answer (or its
/// failure) is delivered. Delivery happens once; a request that timed out or whose client went away is finished
/// with that failure, and the decode threads and the batcher then drop it instead of working on it.
final class InferenceJob: @unchecked Sendable {
    let runner: BatchRunner
    /// Jobs with equal keys have the same tasks (the same snapshots) and options, so they can share a batch.
    let key: String
    /// The upload's bytes until they are decoded (then released).
    var audio: [UInt8]
    /// Set once the input is decoded, before the job is submitted to the batcher.
    var prepared: BatchRunner.PreparedInput!
    let admitted = ContinuousClock.now
    /// Past this instant the request is answered 504 (`timeout`) and no more work is spent on it.
    let deadline: ContinuousClock.Instant
    private let timeout: ServerError
    private let lock = NSLock()
    private var continuation: CheckedContinuation<BatchRunner.InputResult, any Error>?
    private var outcome: Result<BatchRunner.InputResult, any Error>?
    private var place: AdmissionGate?

    init(runner: BatchRunner, key: String, audio: [UInt8], place: AdmissionGate, timeout: Duration) {
        self.runner = runner
        self.key = key
        self.audio = audio
        self.place = place
        deadline = admitted + timeout
        self.timeout = ServerError(.gatewayTimeout, "no answer within the request timeout (\(timeout)); the request was dropped")
    }

    var windows: Int { prepared.windowCount }

    /// True once an outcome is delivered (an answer, a failure, a timeout or a cancellation).
    var isFinished: Bool {
        lock.lock()
        defer { lock.unlock() }
        return outcome != nil
    }

    /// Finishes the job with 504 when its deadline has passed; true when it has (or it was already finished).
    func expireIfLate(now: ContinuousClock.Instant = .now) -> Bool {
        guard now >= deadline else { return isFinished }
        finish(.failure(timeout))
        return true
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

    /// Delivers the outcome; later calls do nothing. An answer ready only after the deadline is delivered as the
    /// timeout it is: the client never waits longer than the request timeout for a 200.
    func finish(_ result: Result<BatchRunner.InputResult, any Error>) {
        var result = result
        if case .success = result, ContinuousClock.now >= deadline { result = .failure(timeout) }
        lock.lock()
        guard outcome == nil else { lock.unlock(); return }
        outcome = result
        let c = continuation
        continuation = nil
        lock.unlock()
        c?.resume(with: result)
    }
}
