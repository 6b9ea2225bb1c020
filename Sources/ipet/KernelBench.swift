import ArgumentParser
import Foundation
import IPETAudio
import IPETEngine
import IPETModels
import IPETTensor

struct KernelBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels", abstract: "Element-wise kernel speed over a 1214×3072 matrix (ms per call).")

    @Option(help: "Comma-separated thread counts to measure, each 1 to 1024.")
    var threads = ThreadCounts([1, 2])

    func run() throws {
        let counts = threads.values
        let rows = 1214, cols = 3072, n = rows * cols
        let source = Tensor(shape: [n], values: (0..<n).map { Float(($0 * 7919) % 2000) / 250 - 4 })
        let x = Tensor(zeros: [n])
        let w = Tensor(shape: [cols], values: Array(repeating: 1.1, count: cols))
        let b = Tensor(shape: [cols], values: Array(repeating: 0.1, count: cols))
        let kernels: [(String, () -> Void)] = [
            ("gelu", { Kernels.gelu(x.mutableData, count: n) }),
            ("softmax rows", { Kernels.softmaxRows(x.mutableData, rows: rows, cols: cols) }),
            ("layernorm rows", { Kernels.layerNorm(x.data, rows: rows, cols: cols, weight: w.data, bias: b.data, eps: 1e-5, into: x.mutableData) }),
            ("add", { Kernels.add(x.data, source.data, into: x.mutableData, count: n) }),
        ]
        emit("kernel            threads   ms/call   ns/element\n")
        for (name, body) in kernels {
            for t in counts {
                ComputeThreads.configure(t)
                var best = Double.infinity
                for _ in 0..<5 {
                    x.mutableData.update(from: source.data, count: n)
                    let start = DispatchTime.now().uptimeNanoseconds
                    body()
                    best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                }
                emit(name.padding(toLength: 18, withPad: " ", startingAt: 0) + String(format: "%7d %9.2f %12.2f\n", t, best * 1e3, best * 1e9 / Double(n)))
            }
        }
    }
}
