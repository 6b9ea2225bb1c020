import ArgumentParser
import Foundation
import IPETFormats
import IPETTensor
import Logging

extension GemmBackend: ExpressibleByArgument {}

/// Options every compute command shares.
struct ComputeOptions: ParsableArguments {
    @Option(help: "Threads for computation (0 = one per core). BLAS and our own loops share this budget.")
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
        let level: Logger.Level = verbose ? .info : .warning
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let library = gemm == .onednn ? Gemm.oneDNNDescription : "OpenBLAS"
        Logger(label: "ipet").info("GEMM: \(gemm.rawValue) (\(library)), \(ComputeThreads.count) thread(s)")
    }
}
