import ArgumentParser
import Foundation
import IPETFormats
import IPETTensor
import Logging

extension GemmBackend: ExpressibleByArgument {}

/// Options every compute command shares.
struct ComputeOptions: ParsableArguments {
    @Option(help: "Threads for computation (0 = the CPUs this process may use: OMP_NUM_THREADS, SLURM_CPUS_PER_TASK, else its CPU affinity and cgroup quota). Every library and our own loops share this budget.")
    var threads: Int = 0

    @Option(help: "GEMM library: onednn (default) or openblas (for comparison; docs/native-libraries.md §2, §7).")
    var gemm: GemmBackend = .onednn

    @Flag(name: .shortAndLong, help: "Log progress details (backbone loads, timings) on standard error.")
    var verbose = false

    func validate() throws {
        guard threads >= 0 else { throw ValidationError("--threads must be 0 (all cores) or a positive number") }
    }

    func apply() {
        ComputeThreads.configure(threads)
        GemmBackend.current = gemm
        if StageTimer.enabled {
            atexit { FileHandle.standardError.write(Data((StageTimer.report() + "\n").utf8)) }
        }
        let level: Logger.Level = verbose ? .debug : .warning
        MessageLogHandler.level = level
        let library = gemm == .onednn ? Gemm.oneDNNDescription : "OpenBLAS"
        Logger(label: "ipet").info("compute threads: \(ComputeThreads.count) (\(ComputeThreads.reason)); GEMM: \(gemm.rawValue) (\(library))")
    }
}
