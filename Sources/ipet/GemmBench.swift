import ArgumentParser
import Foundation
import IPETAudio
import IPETEngine
import IPETModels
import IPETTensor

struct GemmBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm",
        abstract: "GEMM GFLOP/s of both libraries for the AST shapes at several thread counts.")

    @Option(help: "Comma-separated thread counts to measure.")
    var threads: String = "1,2"

    @Option(help: "Repetitions per shape; the best time is reported.")
    var repeats: Int = 5

    func run() throws {
        let counts = threads.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !counts.isEmpty, counts.allSatisfy({ $0 > 0 }) else { throw ValidationError("--threads takes positive numbers like 1,2") }
        emit("\(Gemm.oneDNNDescription)\n")
        // (label, m, n, k, kind, heads): the projections and the MLP as `Linear` layers (oneDNN: packed weights, fused
        // bias), and 12 heads of QKᵀ and S·V for 1214 tokens the way attention runs them (heads in parallel, each a
        // single-threaded GEMM).
        let shapes: [(String, Int, Int, Int, Kind, Int)] = [
            ("1214x768x768 (projection)", 1214, 768, 768, .linear, 1),
            ("1214x3072x768 (MLP up)", 1214, 3072, 768, .linear, 1),
            ("1214x768x3072 (MLP down)", 1214, 768, 3072, .linear, 1),
            ("12 heads 1214x1214x64 (Q·Kᵀ)", 1214, 1214, 64, .scores, 12),
            ("12 heads 1214x64x1214 (S·V)", 1214, 64, 1214, .context, 12),
        ]
        emit("shape                             threads   openblas GFLOP/s   onednn GFLOP/s\n")
        let initial = GemmBackend.current
        defer { GemmBackend.current = initial }
        for (label, m, n, k, kind, heads) in shapes {
            let a = Tensor(shape: [heads, m, k], values: (0..<(heads * m * k)).map { Float(($0 * 7919) % 1000) / 1000 - 0.5 })
            let b = Tensor(shape: [heads, k, n], values: (0..<(heads * k * n)).map { Float(($0 * 104729) % 1000) / 1000 - 0.5 })
            let bias = Tensor(shape: [n], values: (0..<n).map { Float($0 % 7) / 10 })
            let c = Tensor(zeros: [heads, m, n])
            for t in counts {
                ComputeThreads.configure(t)
                var rates: [Double] = []
                for backend in [GemmBackend.openblas, .onednn] {
                    GemmBackend.current = backend
                    var best = Double.infinity
                    for _ in 0..<(max(1, repeats) + 1) {  // the first run creates primitives and packs weights
                        let start = DispatchTime.now().uptimeNanoseconds
                        Self.multiply(kind, m: m, n: n, k: k, heads: heads, a: a, b: b, bias: bias, c: c)
                        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                    }
                    rates.append(2.0 * Double(m) * Double(n) * Double(k) * Double(heads) / best / 1e9)
                }
                emit(label.padding(toLength: 34, withPad: " ", startingAt: 0)
                     + String(format: "%7d %18.1f %16.1f\n", t, rates[0], rates[1]))
            }
        }
    }

    enum Kind { case linear, scores, context }

    static func multiply(_ kind: Kind, m: Int, n: Int, k: Int, heads: Int, a: Tensor, b: Tensor, bias: Tensor, c: Tensor) {
        switch kind {
        case .linear:
            // b read as a [n, k] weight.
            Gemm.linear(a.data, rows: m, inFeatures: k, weight: b.reshaped([heads * k * n / k, k]).rows(0, count: n), bias: bias,
                        into: c.mutableData)
        case .scores, .context:
            let (pa, pb, pc) = (SendablePointer(a.data), SendablePointer(b.data), SendablePointer(c.mutableData))
            let transB = kind == .scores
            ComputeThreads.parallelFor(heads) { h in
                Gemm.gemmSerial(transB: transB, m: m, n: n, k: k, a: pa.pointer + h * m * k, lda: k,
                                b: pb.pointer + h * k * n, ldb: transB ? k : n, c: pc.pointer + h * m * n, ldc: n)
            }
        }
    }
}
