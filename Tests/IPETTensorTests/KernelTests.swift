import Foundation
import IPETTensor
import IPETTestSupport
import XCTest

/// Kernels against plain scalar references (Double where it matters). Tolerances are stated per test.
final class KernelTests: XCTestCase {
    override func setUp() { ComputeThreads.configure(2) }

    private func random(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var state = seed &* 6364136223846793005 &+ 1442695040888963407
        return (0..<n).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return (Float(state >> 40) / Float(1 << 24) * 2 - 1) * scale
        }
    }

    /// C = op(A)·op(B) in Double, row-major.
    private func referenceGemm(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int, transA: Bool, transB: Bool) -> [Float] {
        var c = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k {
                    let av = transA ? a[p * m + i] : a[i * k + p]
                    let bv = transB ? b[j * k + p] : b[p * n + j]
                    s += Double(av) * Double(bv)
                }
                c[i * n + j] = Float(s)
            }
        }
        return c
    }

    func testGemmMatchesReferenceForAllTransposeCasesAndThreadSplits() {
        // Shapes chosen to take the serial path, the row-split path and the column-split path.
        for (m, n, k) in [(3, 5, 7), (97, 130, 64), (2, 300, 900)] {
            for transA in [false, true] {
                for transB in [false, true] {
                    let a = random(m * k, seed: 1), b = random(k * n, seed: 2)
                    var c = [Float](repeating: 0, count: m * n)
                    a.withUnsafeBufferPointer { pa in
                        b.withUnsafeBufferPointer { pb in
                            c.withUnsafeMutableBufferPointer { pc in
                                Gemm.gemm(transA: transA, transB: transB, m: m, n: n, k: k, a: pa.baseAddress!,
                                          lda: transA ? m : k, b: pb.baseAddress!, ldb: transB ? k : n, c: pc.baseAddress!, ldc: n)
                            }
                        }
                    }
                    let expected = referenceGemm(a, b, m: m, n: n, k: k, transA: transA, transB: transB)
                    XCTAssertLessThan(maxAbsDifference(c, expected), 1e-4, "m\(m) n\(n) k\(k) tA\(transA) tB\(transB)")
                }
            }
        }
    }

    func testLinearAddsBiasToEveryRow() {
        let x = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        let w = Tensor(shape: [2, 3], values: [1, 0, 0, 0, 1, 1])
        let b = Tensor(shape: [2], values: [10, 20])
        let y = Tensor(zeros: [2, 2])
        Gemm.linear(x.data, rows: 2, inFeatures: 3, weight: w, bias: b, into: y.mutableData)
        XCTAssertEqual(y.array, [11, 25, 14, 31])
    }

    /// Training updates weights in place: after `weightsChanged` every backend multiplies by the new values (oneDNN
    /// would otherwise reuse the copy it packed on first use).
    func testLinearReadsAWeightAgainAfterWeightsChanged() {
        forEachGemmBackend { backend in
            let x = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
            let w = Tensor(shape: [2, 3], values: [1, 0, 0, 0, 1, 1])
            let y = Tensor(zeros: [2, 2])
            Gemm.linear(x.data, rows: 2, inFeatures: 3, weight: w, bias: nil, into: y.mutableData)
            XCTAssertEqual(y.array, [1, 5, 4, 11], "\(backend)")
            w.mutableData[0] = 2
            Gemm.weightsChanged(w)
            Gemm.linear(x.data, rows: 2, inFeatures: 3, weight: w, bias: nil, into: y.mutableData)
            XCTAssertEqual(y.array, [2, 5, 8, 11], "\(backend)")
        }
    }

    func testGeluMatchesExactErfFormWithin1e6() {
        var x = (0..<2001).map { Float($0 - 1000) / 100 } + random(4099, seed: 3, scale: 6)
        x.withUnsafeMutableBufferPointer { Kernels.gelu($0.baseAddress!, count: $0.count) }
        let input = (0..<2001).map { Double($0 - 1000) / 100 } + random(4099, seed: 3, scale: 6).map(Double.init)
        let expected = input.map { Float(0.5 * $0 * (1 + Foundation.erf($0 / 2.0.squareRoot()))) }
        XCTAssertLessThan(maxAbsDifference(x, expected), 1e-6)
    }

    func testExpRelativeErrorBelow3e7OverItsRange() {
        // Valid range [-87, 88]: below, results clamp to the smallest normal (softmax never cares); above, overflow.
        let xs = (0..<16001).map { Float($0 - 8000) / 8000 * 87 }
        var ys = [Float](repeating: 0, count: xs.count)
        Kernels.exp(xs, into: &ys, count: xs.count)
        var worst = 0.0
        for (x, y) in zip(xs, ys) {
            let ref = Foundation.exp(Double(x))
            worst = max(worst, abs(Double(y) - ref) / ref)
        }
        XCTAssertLessThan(worst, 3e-7)
    }

    func testSoftmaxRowsSumToOneAndMatchReference() {
        let rows = 5, cols = 37
        var x = random(rows * cols, seed: 4, scale: 20)
        let input = x
        x.withUnsafeMutableBufferPointer { Kernels.softmaxRows($0.baseAddress!, rows: rows, cols: cols) }
        for r in 0..<rows {
            let row = input[(r * cols)..<((r + 1) * cols)].map(Double.init)
            let m = row.max()!
            let e = row.map { Foundation.exp($0 - m) }
            let s = e.reduce(0, +)
            let expected = e.map { Float($0 / s) }
            XCTAssertLessThan(maxAbsDifference(x[(r * cols)..<((r + 1) * cols)], expected), 1e-6)
        }
    }

    func testLayerNormUsesBiasedVarianceAndAffine() {
        let rows = 4, cols = 29
        let x = random(rows * cols, seed: 5, scale: 3), w = random(cols, seed: 6), b = random(cols, seed: 7)
        var y = [Float](repeating: 0, count: rows * cols)
        Kernels.layerNorm(x, rows: rows, cols: cols, weight: w, bias: b, eps: 1e-5, into: &y)
        for r in 0..<rows {
            let row = x[(r * cols)..<((r + 1) * cols)].map(Double.init)
            let mean = row.reduce(0, +) / Double(cols)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(cols)
            let expected = row.enumerated().map { Float(($1 - mean) / (variance + 1e-5).squareRoot() * Double(w[$0]) + Double(b[$0])) }
            XCTAssertLessThan(maxAbsDifference(y[(r * cols)..<((r + 1) * cols)], expected), 2e-6)
        }
    }

    func testGroupNormWithOneGroupPerChannelNormalisesEachRowOverTime() {
        let channels = 6, time = 50
        var x = random(channels * time, seed: 8, scale: 4)
        let input = x
        let w = random(channels, seed: 9), b = random(channels, seed: 10)
        x.withUnsafeMutableBufferPointer {
            Kernels.groupNorm($0.baseAddress!, channels: channels, time: time, groups: channels, weight: w, bias: b, eps: 1e-5)
        }
        for c in 0..<channels {
            let row = input[(c * time)..<((c + 1) * time)].map(Double.init)
            let mean = row.reduce(0, +) / Double(time)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(time)
            let expected = row.map { Float(($0 - mean) / (variance + 1e-5).squareRoot() * Double(w[c]) + Double(b[c])) }
            XCTAssertLessThan(maxAbsDifference(x[(c * time)..<((c + 1) * time)], expected), 2e-6)
        }
    }

    func testReluAndAdd() {
        var x: [Float] = [-1, 0, 2, -3, 4, 5, -6, 7, 8, -9]
        x.withUnsafeMutableBufferPointer { Kernels.relu($0.baseAddress!, count: $0.count) }
        XCTAssertEqual(x, [0, 0, 2, 0, 4, 5, 0, 7, 8, 0])
        let a = random(19, seed: 11), b = random(19, seed: 12)
        var out = [Float](repeating: 0, count: 19)
        Kernels.add(a, b, into: &out, count: 19)
        XCTAssertEqual(out, zip(a, b).map { $0 + $1 })
    }

    func testParallelForVisitsEveryChunkOnce() {
        final class Counter: @unchecked Sendable {
            let lock = NSLock()
            var seen: [Int] = []
        }
        let counter = Counter()
        ComputeThreads.configure(2)
        ComputeThreads.parallelFor(37) { i in
            counter.lock.lock()
            counter.seen.append(i)
            counter.lock.unlock()
        }
        XCTAssertEqual(counter.seen.sorted(), Array(0..<37))
        XCTAssertEqual(ComputeThreads.ranges(10, minimum: 1).flatMap { Array($0) }, Array(0..<10))
    }

    /// Claimed chunks: every chunk once, each worker index below `workers(chunks)`, and one worker's chunks in
    /// increasing order (a worker claims the next unclaimed chunk only after finishing its current one).
    func testParallelForWorkersClaimsEveryChunkOnceInOrderPerWorker() {
        final class Log: @unchecked Sendable {
            let lock = NSLock()
            var byWorker: [Int: [Int]] = [:]
        }
        for threads in [1, 2, 3] {
            ComputeThreads.configure(threads)
            for chunks in [1, 2, 5, 64] {
                let log = Log()
                ComputeThreads.parallelForWorkers(chunks) { worker, chunk in
                    log.lock.lock()
                    log.byWorker[worker, default: []].append(chunk)
                    log.lock.unlock()
                }
                XCTAssertEqual(log.byWorker.values.flatMap { $0 }.sorted(), Array(0..<chunks), "\(threads) threads, \(chunks)")
                XCTAssertTrue(log.byWorker.keys.allSatisfy { $0 >= 0 && $0 < ComputeThreads.workers(chunks) })
                XCTAssertTrue(log.byWorker.values.allSatisfy { $0 == $0.sorted() })
            }
        }
        ComputeThreads.configure(2)
    }

    /// The peak loop runs on every thread count asked and reports a plausible rate (not timed against a figure: a
    /// shared machine's rate moves; any CPU since 2010 does more than 1 GFLOP/s per core in float32).
    func testFMAPeakMeasuresARate() {
        XCTAssertTrue(["avx512f", "avx2+fma", "none"].contains(FMAPeak.isa), FMAPeak.isa)
        for threads in [1, 2] {
            let rate = FMAPeak.measure(threads: threads, repeats: 1, seconds: 0.01)
            XCTAssertTrue(rate.isFinite && rate > 1, "\(threads) threads: \(rate) GFLOP/s")
        }
    }
}
