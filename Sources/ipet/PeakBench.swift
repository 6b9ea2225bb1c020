import ArgumentParser
import IPETTensor

struct PeakBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peak",
        abstract: "This CPU's float32 arithmetic peak: GFLOP/s of register-only fused multiply-add loops on 1, 2, ... threads.",
        discussion: """
            Each thread runs twelve independent chains of FMAs in the widest vectors the CPU has (no memory \
            traffic), so the figure is what the cores can do at best, right now: read GEMM and model GFLOP/s \
            (`ipet bench gemm`, tools/bench_peers.py) as fractions of it. On a shared host it moves with the \
            neighbours' load; the best of --repeats tries is printed.
            """)

    @Option(help: "Comma-separated thread counts to measure, each 1 to 1024.")
    var threads = ThreadCounts([1, 2])

    @Option(help: "Tries per thread count; the best is reported.")
    var repeats: Int = 5

    func run() throws {
        let counts = threads.values
        guard (1...1000).contains(repeats) else { throw ValidationError("--repeats takes a number from 1 to 1000") }
        emit("float32 FMA peak, register-only loop (\(FMAPeak.isa)), best of \(repeats)\n")
        emit("threads   GFLOP/s   per thread\n")
        for t in counts {
            let rate = FMAPeak.measure(threads: t, repeats: repeats)
            emit(String(format: "%7d %9.1f %12.1f\n", t, rate, rate / Double(t)))
        }
    }
}
