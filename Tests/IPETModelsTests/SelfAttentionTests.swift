import Foundation
import IPETModels
import IPETTensor
import XCTest

/// Attention against a float64 reference written from the formula, `softmax(q·kᵀ/√d_h + mask)·v` per head and
/// sequence then the output projection, on a sequence long enough for several query blocks (the last one partial),
/// a head size whose scale is not a power of two, and a padded item whose masked keys must get probability zero.
final class SelfAttentionTests: XCTestCase {
    override func setUp() { ComputeThreads.configure(2) }
    override func tearDown() { GemmBackend.current = .onednn }

    private struct Random {
        var state: UInt64
        mutating func values(_ n: Int, scale: Float) -> [Float] {
            (0..<n).map { _ in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return (Float(state >> 40) / Float(1 << 24) * 2 - 1) * scale
            }
        }
    }

    func testBlockedAttentionMatchesTheFormulaInFloat64() throws {
        let hidden = 24, heads = 3, batch = 2, tokens = 300
        let keyLengths = [300, 137]
        var random = Random(state: 7)
        func linear() -> ([Float], [Float]) { (random.values(hidden * hidden, scale: 0.4), random.values(hidden, scale: 0.1)) }
        let (wq, bq) = linear(), (wk, bk) = linear(), (wv, bv) = linear(), (wo, bo) = linear()
        let x = random.values(batch * tokens * hidden, scale: 1)
        func layer(_ w: [Float], _ b: [Float]) -> Linear {
            Linear(weight: Tensor(shape: [hidden, hidden], values: w), bias: Tensor(shape: [hidden], values: b))
        }
        let attention = try SelfAttention(query: layer(wq, bq), key: layer(wk, bk), value: layer(wv, bv), output: layer(wo, bo), heads: heads)
        XCTAssertEqual(attention.products, .float32, "a float32 layer attends in float32 whatever the policy")

        // The reference.
        func project(_ w: [Float], _ b: [Float], _ input: [Double]) -> [Double] {
            var out = [Double](repeating: 0, count: batch * tokens * hidden)
            for r in 0..<(batch * tokens) {
                for o in 0..<hidden {
                    var s = Double(b[o])
                    for i in 0..<hidden { s += input[r * hidden + i] * Double(w[o * hidden + i]) }
                    out[r * hidden + o] = s
                }
            }
            return out
        }
        let xd = x.map(Double.init)
        let q = project(wq, bq, xd), k = project(wk, bk, xd), v = project(wv, bv, xd)
        let dh = hidden / heads
        var context = [Double](repeating: 0, count: batch * tokens * hidden)
        for b in 0..<batch {
            for h in 0..<heads {
                for i in 0..<tokens {
                    var scores = [Double](repeating: 0, count: keyLengths[b])
                    for j in 0..<keyLengths[b] {
                        var s = 0.0
                        for c in 0..<dh { s += q[(b * tokens + i) * hidden + h * dh + c] * k[(b * tokens + j) * hidden + h * dh + c] }
                        scores[j] = s / Double(dh).squareRoot()
                    }
                    let top = scores.max()!
                    let e = scores.map { Foundation.exp($0 - top) }, total = e.reduce(0, +)
                    for c in 0..<dh {
                        var s = 0.0
                        for j in 0..<keyLengths[b] { s += e[j] / total * v[(b * tokens + j) * hidden + h * dh + c] }
                        context[(b * tokens + i) * hidden + h * dh + c] = s
                    }
                }
            }
        }
        let expected = project(wo, bo, context)

        for backend in GemmBackend.allCases {
            GemmBackend.current = backend
            var out = [Float](repeating: .nan, count: x.count)
            let workspace = Workspace()
            x.withUnsafeBufferPointer { xp in
                attention(xp.baseAddress!, batch: batch, tokens: tokens, keyLengths: keyLengths, into: &out, workspace: workspace)
            }
            var worst = 0.0
            for i in 0..<out.count { worst = max(worst, abs(Double(out[i]) - expected[i])) }
            XCTAssertLessThanOrEqual(worst, 1e-5, "\(backend): max |Δ| from the float64 formula")
        }
    }
}
