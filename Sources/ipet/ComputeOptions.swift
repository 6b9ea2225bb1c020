import ArgumentParser
import Foundation
import IPETFormats
import IPETTensor
import Logging

/// Options every compute command shares.
struct ComputeOptions: ParsableArguments {
    @Option(help: "Threads for computation (0 = the CPUs this process may use: OMP_NUM_THREADS, SLURM_CPUS_PER_TASK, else its CPU affinity and cgroup quota). Every library and our own loops share this budget.")
    var threads: Int = 0

    @Flag(name: .shortAndLong, help: "Log progress details (backbone loads, timings) on standard error.")
    var verbose = false

    func validate() throws {
        guard threads >= 0 else { throw ValidationError("--threads must be 0 (all cores) or a positive number") }
    }

    func apply() {
        ComputeThreads.configure(threads)
        if StageTimer.enabled {
            atexit { FileHandle.standardError.write(Data((StageTimer.report() + "\n").utf8)) }
        }
        let level: Logger.Level = verbose ? .debug : .warning
        MessageLogHandler.level = level
        Logger(label: "ipet").info("compute threads: \(ComputeThreads.count) (\(ComputeThreads.reason))")
    }
}
