import ArgumentParser
import Foundation
import IPETFormats
import IPETModels
import IPETTensor
import Logging

extension GemmBackend: ExpressibleByArgument {}
extension ComputePrecision: ExpressibleByArgument {}

/// `--int8-attention`.
enum Int8AttentionProducts: String, CaseIterable, ExpressibleByArgument {
    case auto, f32, bf16

    var policy: SelfAttention.BFloat16Policy {
        switch self {
        case .auto: return .whereNative
        case .f32: return .never
        case .bf16: return .always
        }
    }
}

/// Options every compute command shares.
struct ComputeOptions: ParsableArguments {
    @Option(help: "Threads for computation (0 = the CPUs this process may use: OMP_NUM_THREADS, SLURM_CPUS_PER_TASK, else its CPU affinity and cgroup quota). Every library and our own loops share this budget.")
    var threads: Int = 0

    @Option(help: "GEMM library: onednn (default) or openblas (for comparison; docs/native-libraries.md §2, §7).")
    var gemm: GemmBackend = .onednn

    @Option(name: .customLong("compute"), help: "Precision of the backbone's attention, feed-forward and feature projections: f32 (as stored) or int8 (a float32 backbone quantised at load: int8 weights, activations quantised per call, int32 sums; Formats/int8.md). A file written by convert --dtype int8 runs in int8 anyway.")
    var precision: ComputePrecision = .f32

    @Option(help: "Attention score and value products of an int8 backbone: auto (bfloat16 where the CPU has bf16 dot products, AVX512_BF16 or AMX, else f32), f32, or bf16 (emulated, slower, where the CPU lacks them). Float32 backbones always use f32 (docs/native-libraries.md §9).")
    var int8Attention: Int8AttentionProducts = .auto

    @Flag(name: .shortAndLong, help: "Log progress details (backbone loads, timings) on standard error.")
    var verbose = false

    func validate() throws {
        guard threads >= 0 else { throw ValidationError("--threads must be 0 (all cores) or a positive number") }
    }

    func apply() {
        ComputeThreads.configure(threads, reason: "--threads")
        GemmBackend.current = gemm
        SelfAttention.bfloat16Policy = int8Attention.policy
        if StageTimer.enabled {
            atexit { FileHandle.standardError.write(Data((StageTimer.report() + "\n").utf8)) }
        }
        let level: Logger.Level = verbose ? .debug : .warning
        MessageLogHandler.level = level
        let library = gemm == .onednn ? Gemm.oneDNNDescription : "OpenBLAS"
        Logger(label: "ipet").info("compute threads: \(ComputeThreads.count) (\(ComputeThreads.reason)); GEMM: \(gemm.rawValue) (\(library)); compute: \(precision.rawValue)")
    }
}
