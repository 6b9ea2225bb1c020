import Dispatch
import Foundation
import IPETTensor
import IPETTestSupport
import XCTest

/// Both GEMM backends against a float64 reference: every transpose combination, odd and full-size shapes, the
/// strided per-head products of attention, `Linear` with bias and fused GELU, and the oneDNN caches under
/// concurrent first use. Tolerance: 1e-4 max abs for inputs in [-1, 1] (float32 sums of up to 3072 products),
/// scaled by √k for the 768-deep products.
final class GemmBackendTests: XCTestCase {
    override func setUp() { ComputeThreads.configure(2) }

    private func random(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var state = seed &* 6364136223846793005 &+ 1442695040888963407
        return (0..<n).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return (Float(state >> 40) / Float(1 << 24) * 2 - 1) * scale
        }
    }

    /// `alpha·A·B + beta·C0` in Double for row-major A `[m×k]`, B `[k×n]`.
    private func reference(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int, alpha: Double = 1, beta: Double = 0,
                           c0: [Float]? = nil) -> [Float] {
        var out = [Float](repeating: 0, count: m * n)
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                var row = [Double](repeating: 0, count: n)
                for i in 0..<m {
                    for j in 0..<n { row[j] = 0 }
                    for p in 0..<k {
                        let av = Double(a[i * k + p])
                        if av == 0 { continue }
                        for j in 0..<n { row[j] += av * Double(b[p * n + j]) }
                    }
                    for j in 0..<n { out[i * n + j] = Float(alpha * row[j] + beta * Double(c0?[i * n + j] ?? 0)) }
                }
            }
        }
        return out
    }

    private func transpose(_ x: [Float], rows: Int, cols: Int) -> [Float] {
        var t = [Float](repeating: 0, count: x.count)
        for r in 0..<rows { for c in 0..<cols { t[c * rows + r] = x[r * cols + c] } }
        return t
    }

    private func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1, a: [Float], b: [Float],
                      beta: Float = 0, c: [Float]? = nil, serial: Bool = false) -> [Float] {
        // Stored operands: A is m×k, or k×m when transposed; B is k×n, or n×k.
        let storedA = transA ? transpose(a, rows: m, cols: k) : a
        let storedB = transB ? transpose(b, rows: k, cols: n) : b
        var out = c ?? [Float](repeating: .nan, count: m * n)
        if beta == 0 && c == nil { out = [Float](repeating: 0, count: m * n) }
        storedA.withUnsafeBufferPointer { pa in
            storedB.withUnsafeBufferPointer { pb in
                out.withUnsafeMutableBufferPointer { pc in
                    if serial {
                        Gemm.gemmSerial(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: pa.baseAddress!,
                                        lda: transA ? m : k, b: pb.baseAddress!, ldb: transB ? k : n, beta: beta,
                                        c: pc.baseAddress!, ldc: n)
                    } else {
                        Gemm.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: pa.baseAddress!,
                                  lda: transA ? m : k, b: pb.baseAddress!, ldb: transB ? k : n, beta: beta,
                                  c: pc.baseAddress!, ldc: n)
                    }
                }
            }
        }
        return out
    }

    func testEveryTransposeCombinationAndOddShapesMatchFloat64OnBothBackends() {
        for (m, n, k) in [(1, 1, 1), (7, 13, 5), (1214, 768, 768)] {
            let a = random(m * k, seed: UInt64(m * 31 + k)), b = random(k * n, seed: UInt64(n * 17 + k))
            let expected = reference(a, b, m: m, n: n, k: k)
            let tolerance: Float = k > 64 ? 1e-4 * Float(k).squareRoot() / 8 : 1e-5
            forEachGemmBackend { backend in
                for transA in [false, true] {
                    for transB in [false, true] {
                        for serial in m > 100 ? [false] : [false, true] {
                            let c = gemm(transA: transA, transB: transB, m: m, n: n, k: k, a: a, b: b, serial: serial)
                            XCTAssertLessThan(maxAbsDifference(c, expected), tolerance,
                                              "\(backend) \(m)×\(n)×\(k) tA \(transA) tB \(transB) serial \(serial)")
                        }
                    }
                }
            }
        }
    }

    func testAlphaAndBetaAccumulateLikeBLAS() {
        let (m, n, k) = (37, 29, 41)
        let a = random(m * k, seed: 5), b = random(k * n, seed: 6), c0 = random(m * n, seed: 7)
        let expected = reference(a, b, m: m, n: n, k: k, alpha: 0.125, beta: 1, c0: c0)
        forEachGemmBackend { backend in
            for serial in [false, true] {
                let c = gemm(transA: false, transB: true, m: m, n: n, k: k, alpha: 0.125, a: a, b: b, beta: 1, c: c0, serial: serial)
                XCTAssertLessThan(maxAbsDifference(c, expected), 1e-5, "\(backend) serial \(serial)")
            }
        }
    }

    /// Attention's products: per head, `S = scale·Q_h·K_hᵀ` and `ctx_h = S·V_h`, with heads as column slices of
    /// `[tokens, hidden]` matrices (leading dimension = hidden), heads run in parallel with single-threaded GEMMs.
    func testStridedPerHeadAttentionProductsMatchFloat64OnBothBackends() {
        let (tokens, heads, dh) = (101, 4, 16), d = heads * dh
        let q = random(tokens * d, seed: 11), k = random(tokens * d, seed: 12), v = random(tokens * d, seed: 13)
        func column(_ x: [Float], head h: Int) -> [Float] {
            var out: [Float] = []
            for t in 0..<tokens {
                let start: Int = t * d + h * dh
                out += x[start..<(start + dh)]
            }
            return out
        }
        let scale: Float = 0.25
        var expectedScores: [[Float]] = [], expectedContext: [[Float]] = []
        for h in 0..<heads {
            let s = reference(column(q, head: h), transpose(column(k, head: h), rows: tokens, cols: dh), m: tokens, n: tokens, k: dh,
                              alpha: Double(scale))
            expectedScores.append(s)
            expectedContext.append(reference(s, column(v, head: h), m: tokens, n: dh, k: tokens))
        }
        forEachGemmBackend { backend in
            let scores = Tensor(zeros: [heads, tokens, tokens]), context = Tensor(zeros: [tokens, d])
            let (qt, kt, vt) = (Tensor(shape: [tokens, d], values: q), Tensor(shape: [tokens, d], values: k), Tensor(shape: [tokens, d], values: v))
            let (pq, pk, pv) = (SendablePointer(qt.data), SendablePointer(kt.data), SendablePointer(vt.data))
            let (ps, pc) = (SendablePointer(scores.mutableData), SendablePointer(context.mutableData))
            ComputeThreads.parallelFor(heads) { h in
                let s = ps.pointer + h * tokens * tokens
                Gemm.gemmSerial(transB: true, m: tokens, n: tokens, k: dh, alpha: scale, a: pq.pointer + h * dh, lda: d,
                                b: pk.pointer + h * dh, ldb: d, c: s, ldc: tokens)
                Gemm.gemmSerial(m: tokens, n: dh, k: tokens, a: s, lda: tokens, b: pv.pointer + h * dh, ldb: d,
                                c: pc.pointer + h * dh, ldc: d)
            }
            for h in 0..<heads {
                XCTAssertLessThan(maxAbsDifference(Array(scores.array[(h * tokens * tokens)..<((h + 1) * tokens * tokens)]), expectedScores[h]),
                                  1e-5, "\(backend) scores head \(h)")
                XCTAssertLessThan(maxAbsDifference(column(context.array, head: h), expectedContext[h]), 1e-4, "\(backend) context head \(h)")
            }
        }
    }

    func testLinearWithBiasAndFusedGeluMatchesFloat64OnBothBackends() {
        for (rows, inFeatures, outFeatures) in [(1, 1, 1), (7, 5, 13), (130, 96, 200)] {
            let x = random(rows * inFeatures, seed: 21), w = random(outFeatures * inFeatures, seed: 22), bias = random(outFeatures, seed: 23)
            let linear = reference(x, transpose(w, rows: outFeatures, cols: inFeatures), m: rows, n: outFeatures, k: inFeatures)
            let withBias = (0..<(rows * outFeatures)).map { Double(linear[$0]) + Double(bias[$0 % outFeatures]) }
            let gelu = withBias.map { Float(0.5 * $0 * (1 + Foundation.erf($0 / 2.0.squareRoot()))) }
            let weight = Tensor(shape: [outFeatures, inFeatures], values: w), b = Tensor(shape: [outFeatures], values: bias)
            let input = Tensor(shape: [rows, inFeatures], values: x)
            forEachGemmBackend { backend in
                for parallel in [true, false] {
                    let y = Tensor(zeros: [rows, outFeatures])
                    Gemm.linear(input.data, rows: rows, inFeatures: inFeatures, weight: weight,
                                bias: b, into: y.mutableData, parallel: parallel)
                    XCTAssertLessThan(maxAbsDifference(y.array, withBias.map { Float($0) }), 1e-5, "\(backend) \(rows)×\(outFeatures)")
                    Gemm.linear(input.data, rows: rows, inFeatures: inFeatures, weight: weight,
                                bias: b, activation: .gelu, into: y.mutableData, parallel: parallel)
                    XCTAssertLessThan(maxAbsDifference(y.array, gelu), 2e-5, "\(backend) GELU \(rows)×\(outFeatures)")
                }
            }
        }
    }

    /// Weights released and new ones allocated (often at the same address) must never meet a stale packed copy.
    func testFreshWeightsAtRecycledAddressesNeverUseAStalePackedCopy() {
        let (rows, inFeatures, outFeatures) = (9, 24, 40)
        let x = Tensor(shape: [rows, inFeatures], values: random(rows * inFeatures, seed: 31))
        for round in 0..<12 {
            let w = random(outFeatures * inFeatures, seed: UInt64(100 + round))
            let expected = reference(x.array, transpose(w, rows: outFeatures, cols: inFeatures), m: rows, n: outFeatures, k: inFeatures)
            let y = Tensor(zeros: [rows, outFeatures])
            Gemm.linear(x.data, rows: rows, inFeatures: inFeatures, weight: Tensor(shape: [outFeatures, inFeatures], values: w), bias: nil,
                        into: y.mutableData)
            XCTAssertLessThan(maxAbsDifference(y.array, expected), 1e-5, "round \(round)")
        }
    }

    /// Concurrent first use from several threads (creating primitives and packing the same weights at once) gives
    /// the same results as one thread, bit for bit, on each backend.
    func testConcurrentCallsFromSeveralThreadsGiveIdenticalResults() {
        let (rows, inFeatures, outFeatures) = (64, 96, 160)
        let x = Tensor(shape: [rows, inFeatures], values: random(rows * inFeatures, seed: 41))
        forEachGemmBackend { backend in
            for round in 0..<3 {
                let weight = Tensor(shape: [outFeatures, inFeatures], values: random(outFeatures * inFeatures, seed: UInt64(200 + round)))
                let bias = Tensor(shape: [outFeatures], values: random(outFeatures, seed: 43))
                let outputs = (0..<6).map { _ in Tensor(zeros: [rows, outFeatures]) }
                DispatchQueue.concurrentPerform(iterations: outputs.count) { i in
                    // Alternate the thread budget per call: both primitive variants get created concurrently.
                    Gemm.linear(x.data, rows: rows, inFeatures: inFeatures, weight: weight, bias: bias, activation: .gelu,
                                into: outputs[i].mutableData, parallel: i % 2 == 0)
                }
                // One call at a time, per thread budget (one and two threads may sum in different orders).
                let alone = [true, false].map { parallel in
                    let y = Tensor(zeros: [rows, outFeatures])
                    Gemm.linear(x.data, rows: rows, inFeatures: inFeatures, weight: weight, bias: bias, activation: .gelu,
                                into: y.mutableData, parallel: parallel)
                    return y.array
                }
                for (i, out) in outputs.enumerated() {
                    XCTAssertEqual(out.array, alone[i % 2], "\(backend) round \(round) thread \(i)")
                }
            }
        }
    }

    func testOneDNNReportsTheInstructionSetItDispatchesTo() {
        XCTAssertTrue(Gemm.oneDNNDescription.hasPrefix("oneDNN 2."), Gemm.oneDNNDescription)
        XCTAssertFalse(Gemm.oneDNNDescription.contains("ISA isa 0x"), Gemm.oneDNNDescription)
    }
}
