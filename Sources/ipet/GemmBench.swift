import ArgumentParser
import Foundation
import IPETAudio
import IPETEngine
import IPETModels
import IPETTensor

struct GemmBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm",
        abstract: "GEMM GFLOP/s for the AST shapes at several thread counts.")

    @Option(help: "Comma-separated thread counts to measure.")
    var threads: String = "1,2"

    @Option(help: "Repetitions per shape; the best time is reported.")
    var repeats: Int = 5

    func run() throws {
        let counts = threads.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !counts.isEmpty, counts.allSatisfy({ $0 > 0 }) else { throw ValidationError("--threads takes positive numbers like 1,2") }
        // (label, m, n, k, transB, batch): the projections, the MLP, and 12 heads of QKᵀ and S·V for 1214 tokens.
        let shapes: [(String, Int, Int, Int, Bool, Int)] = [
            ("1214x768x768 (projection)", 1214, 768, 768, true, 1),
            ("1214x768x3072 (MLP up)", 1214, 3072, 768, true, 1),
            ("12 heads 1214x64x1214 (Q·Kᵀ)", 1214, 1214, 64, true, 12),
            ("12 heads 1214x1214x64 (S·V)", 1214, 64, 1214, false, 12),
        ]
        emit("shape                             threads   ms/call   GFLOP/s\n")
        for (label, m, n, k, transB, batch) in shapes {
            let a = Tensor(shape: [batch, m, k], values: (0..<(batch * m * k)).map { Float(($0 * 7919) % 1000) / 1000 - 0.5 })
            let b = Tensor(shape: [batch, k, n], values: (0..<(batch * k * n)).map { Float(($0 * 104729) % 1000) / 1000 - 0.5 })
            let c = Tensor(zeros: [batch, m, n])
            for t in counts {
                ComputeThreads.configure(t)
                var best = Double.infinity
                for _ in 0..<max(1, repeats) {
                    let start = DispatchTime.now().uptimeNanoseconds
                    if batch == 1 {
                        Gemm.gemm(transB: transB, m: m, n: n, k: k, a: a.data, lda: k, b: b.data, ldb: transB ? k : n,
                                  c: c.mutableData, ldc: n)
                    } else {
                        // Heads in parallel, each one single-threaded BLAS call (how attention runs).
                        let (pa, pb, pc) = (SendablePointer(a.data), SendablePointer(b.data), SendablePointer(c.mutableData))
                        ComputeThreads.parallelFor(batch) { h in
                            Gemm.gemmSerial(transB: transB, m: m, n: n, k: k, a: pa.pointer + h * m * k, lda: k,
                                            b: pb.pointer + h * k * n, ldb: transB ? k : n, c: pc.pointer + h * m * n, ldc: n)
                        }
                    }
                    best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                }
                let flops = 2.0 * Double(m) * Double(n) * Double(k) * Double(batch)
                emit(label.padding(toLength: 34, withPad: " ", startingAt: 0)
                     + String(format: "%7d %9.2f %9.1f\n", t, best * 1e3, flops / best / 1e9))
            }
        }
    }
}
