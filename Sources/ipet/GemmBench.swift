import ArgumentParser
import Foundation
import IPETAudio
import IPETEngine
import IPETModels
import IPETTensor

struct GemmBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm",
        abstract: "GEMM GFLOP/s of both libraries for the AST shapes at several thread counts, and the int8 product's GOP/s.",
        discussion: """
            The int8 column times the whole int8 Linear (Int8Gemm: the input's bytes quantised per call, oneDNN's \
            u8·s8 → s32 product on packed weights, and the rescale to float32 with the bias), as --compute int8 runs \
            it, counted as 2·m·n·k operations like the float32 columns.
            """)

    @Option(help: "Comma-separated thread counts to measure, each 1 to 1024.")
    var threads = ThreadCounts([1, 2])

    @Option(help: "Repetitions per shape; the best time is reported.")
    var repeats: Int = 5

    func run() throws {
        let counts = threads.values
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
        emit("shape                             threads   openblas GFLOP/s   onednn GFLOP/s   int8 GOP/s\n")
        let initial = GemmBackend.current
        defer { GemmBackend.current = initial }
        for (label, m, n, k, kind, heads) in shapes {
            let a = Tensor(shape: [heads, m, k], values: (0..<(heads * m * k)).map { Float(($0 * 7919) % 1000) / 1000 - 0.5 })
            let b = Tensor(shape: [heads, k, n], values: (0..<(heads * k * n)).map { Float(($0 * 104729) % 1000) / 1000 - 0.5 })
            let bias = Tensor(shape: [n], values: (0..<n).map { Float($0 % 7) / 10 })
            let c = Tensor(zeros: [heads, m, n])
            let int8Weight = kind == .linear ? QuantizedWeight.quantize(Self.weight(b, n: n, k: k, heads: heads)) : nil
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
                var int8Column = "           -"
                if let int8Weight {
                    GemmBackend.current = .onednn
                    var best = Double.infinity
                    for _ in 0..<(max(1, repeats) + 1) {
                        let start = DispatchTime.now().uptimeNanoseconds
                        Int8Gemm.linear(a.data, rows: m, weight: int8Weight, bias: bias, into: c.mutableData)
                        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                    }
                    int8Column = String(format: "%12.1f", 2.0 * Double(m) * Double(n) * Double(k) / best / 1e9)
                }
                emit(label.padding(toLength: 34, withPad: " ", startingAt: 0)
                     + String(format: "%7d %18.1f %16.1f", t, rates[0], rates[1]) + " " + int8Column + "\n")
            }
        }
    }

    enum Kind { case linear, scores, context }

    /// `b` read as a `[n, k]` weight.
    static func weight(_ b: Tensor, n: Int, k: Int, heads: Int) -> Tensor { b.reshaped([heads * k * n / k, k]).rows(0, count: n) }

    static func multiply(_ kind: Kind, m: Int, n: Int, k: Int, heads: Int, a: Tensor, b: Tensor, bias: Tensor, c: Tensor) {
        switch kind {
        case .linear:
            Gemm.linear(a.data, rows: m, inFeatures: k, weight: weight(b, n: n, k: k, heads: heads), bias: bias, into: c.mutableData)
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
