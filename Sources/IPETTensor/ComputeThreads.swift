import CBLAS
import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The process-wide thread budget for computation (`--threads`).
///
/// Why one budget: a library's own threads and our parallel loops must never be stacked on the same cores
/// (2 cores running 4 busy threads lose, `docs/native-libraries.md` §3). So OpenBLAS and oneDNN always run
/// single-threaded (oneDNN's OpenMP team is one thread, §7) and all parallelism is ours: big GEMMs are split into
/// row blocks, attention runs heads in parallel, each block calling a single-threaded GEMM.
public enum ComputeThreads {
    /// The budget; 0 until configured (explicitly, or on first read). Read lock-free by every parallel loop.
    private static let configured = Atomic<Int>(0)
    /// Why the budget is what it is; also serialises configuration, so two threads reading `count` for the first
    /// time at once neither race on `reason` nor disagree on the value.
    private static let why = Mutex<String>("")

    /// Number of threads our parallel loops use. Defaults to the CPUs this process may use (`ProcessCPUs`).
    public static var count: Int {
        let threads = configured.load(ordering: .acquiring)
        if threads > 0 { return threads }
        why.withLock { reason in
            guard configured.load(ordering: .acquiring) == 0 else { return }
            let (threads, because) = ProcessCPUs.available()
            openblas_set_num_threads(1)
            reason = because
            configured.store(threads, ordering: .releasing)
        }
        return configured.load(ordering: .acquiring)
    }

    /// Why `count` is what it is (the caller's `reason`, or `ProcessCPUs`' reason), for logs.
    public static var reason: String {
        _ = count
        return why.withLock { $0 }
    }

    /// Sets the budget (0 = the CPUs this process may use); `reason` says where a positive value came from.
    /// Call at start-up, before any computation (benchmarks also call it between timed runs).
    public static func configure(_ threads: Int, reason: String = "set by the caller") {
        why.withLock { why in
            let (count, because) = threads > 0 ? (threads, reason) : ProcessCPUs.available()
            openblas_set_num_threads(1)
            why = because
            configured.store(count, ordering: .releasing)
        }
    }

    /// Runs `body(chunk)` for `chunks` chunks, on up to `count` threads. With one thread it runs inline.
    ///
    /// With more chunks than threads, each thread claims the next unclaimed chunk when it finishes one (a shared
    /// counter), instead of a fixed share: on a shared machine one core may be held up for milliseconds by another
    /// process, and with fixed shares the whole loop waits for that core's last chunk; claimed chunks let the other
    /// threads take up the slack (`docs/native-libraries.md` §3).
    public static func parallelFor(_ chunks: Int, _ body: @Sendable (Int) -> Void) {
        parallelForWorkers(chunks) { _, chunk in body(chunk) }
    }

    /// Like `parallelFor`, but also passes the index of the worker (0..<workers(chunks)) running the chunk, so
    /// each worker can own a scratch buffer. Chunks of one worker run one after another.
    public static func parallelForWorkers(_ chunks: Int, _ body: @Sendable (_ worker: Int, _ chunk: Int) -> Void) {
        guard chunks > 0 else { return }
        let workers = self.workers(chunks)
        if workers == 1 {
            for i in 0..<chunks { body(0, i) }
            return
        }
        if workers == chunks {
            DispatchQueue.concurrentPerform(iterations: chunks) { body($0, $0) }
            return
        }
        let next = ChunkCounter()
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            while case let i = next.claim(), i < chunks { body(w, i) }
        }
    }

    /// How many workers `parallelForWorkers` uses for `chunks` chunks.
    public static func workers(_ chunks: Int) -> Int { max(1, min(chunks, count)) }

    /// Splits `0..<n` into at most `count` contiguous ranges of at least `minimum` elements each.
    public static func ranges(_ n: Int, minimum: Int = 1) -> [Range<Int>] {
        guard n > 0 else { return [] }
        let parts = max(1, min(count, n / max(1, minimum)))
        var out: [Range<Int>] = []
        out.reserveCapacity(parts)
        for p in 0..<parts {
            let lo = n * p / parts
            let hi = n * (p + 1) / parts
            if hi > lo { out.append(lo..<hi) }
        }
        return out
    }
}

/// The next unclaimed chunk of a `parallelForWorkers` loop, shared by its threads.
private final class ChunkCounter: Sendable {
    private let value = Atomic<Int>(0)

    func claim() -> Int { value.add(1, ordering: .relaxed).oldValue }
}
