import CKernels
import Foundation

/// Element-wise and row-wise kernels over raw Float32 memory. Hot paths use SIMD8 with a scalar tail and
/// never allocate.
public enum Kernels {
    /// `out[i] = a[i] + b[i]` (out may alias a or b).
    public static func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count n: Int) {
        var i = 0
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b), ro = UnsafeMutableRawPointer(out)
        while i + 8 <= n {
            let v = ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) + rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            ro.storeBytes(of: v, toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n {
            out[i] = a[i] + b[i]
            i += 1
        }
    }

    /// `x[i] += alpha · y[i]`.
    public static func addScaled(_ y: UnsafePointer<Float>, scale alpha: Float, into x: UnsafeMutablePointer<Float>, count n: Int) {
        var i = 0
        let ry = UnsafeRawPointer(y), rx = UnsafeMutableRawPointer(x)
        let s = SIMD8<Float>(repeating: alpha)
        while i + 8 <= n {
            let v = rx.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) + s * ry.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            rx.storeBytes(of: v, toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n {
            x[i] += alpha * y[i]
            i += 1
        }
    }

    /// Adds `bias[c]` to every row of a `rows × cols` matrix.
    public static func addBias(_ bias: UnsafePointer<Float>, to x: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        for r in 0..<rows { add(x + r * cols, bias, into: x + r * cols, count: cols) }
    }

    /// `out[c] += Σ_r x[r, c]` over the rows of a `rows × cols` matrix, summed in double precision (bias and
    /// LayerNorm parameter gradients).
    public static func addColumnSums(_ x: UnsafePointer<Float>, rows: Int, cols: Int, into out: UnsafeMutablePointer<Float>) {
        var sums = [Double](repeating: 0, count: cols)
        sums.withUnsafeMutableBufferPointer { s in
            for r in 0..<rows {
                let row = x + r * cols
                for c in 0..<cols { s[c] += Double(row[c]) }
            }
            for c in 0..<cols { out[c] += Float(s[c]) }
        }
    }

    /// `x ← x · s`.
    public static func scale(_ x: UnsafeMutablePointer<Float>, by s: Float, count n: Int) {
        for i in 0..<n { x[i] *= s }
    }

    /// GELU, exact erf form: `0.5·x·(1 + erf(x/√2))` (PyTorch `nn.GELU()`, transformers "gelu").
    public static func gelu(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        let blocks = ComputeThreads.ranges(n, minimum: 1 << 15)
        let p = SendablePointer(x)
        ComputeThreads.parallelFor(blocks.count) { b in
            ipet_gelu_f32(p.pointer + blocks[b].lowerBound, blocks[b].count)
        }
    }

    /// `dy[i] ← dy[i] · GELU'(x[i])` with `GELU'(x) = Φ(x) + x·φ(x)` (Φ, φ: standard normal CDF and density): the
    /// exact-erf GELU's derivative as PyTorch's `GeluBackward` computes it, at the pre-activation `x`.
    public static func geluBackward(_ x: UnsafePointer<Float>, _ dy: UnsafeMutablePointer<Float>, count n: Int) {
        let blocks = ComputeThreads.ranges(n, minimum: 1 << 15)
        let (px, pd) = (SendablePointer(x), SendablePointer(dy))
        ComputeThreads.parallelFor(blocks.count) { b in
            ipet_gelu_grad_f32(px.pointer + blocks[b].lowerBound, pd.pointer + blocks[b].lowerBound, blocks[b].count)
        }
    }

    /// The same GELU on the calling thread only (inside loops that are already parallel).
    public static func geluSerial(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        ipet_gelu_f32(x, n)
    }

    /// `y[i] = exp(x[i])`, relative error below 3e-7 on [-87, 88] (outside, results clamp).
    public static func exp(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count n: Int) {
        ipet_exp_f32(x, y, n)
    }

    /// ReLU in place.
    public static func relu(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        for i in 0..<n where x[i] < 0 { x[i] = 0 }
    }

    /// Numerically stable softmax `exp(x − max) / Σ exp(x − max)` over each row of a `rows × cols` matrix, in
    /// place, in float32 (the attention kernel: rows of up to thousands of scores, called for every head).
    public static func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        for r in 0..<rows { ipet_softmax_f32(x + r * cols, cols) }
    }

    /// The same softmax for one short vector that is reported or reused (class scores, layer weights), with the
    /// exponentials and their sum in double precision so tiny probabilities keep their digits.
    public static func softmax(_ x: [Float]) -> [Float] {
        let m = x.max() ?? 0
        let e = x.map { Foundation.exp(Double($0 - m)) }
        let s = e.reduce(0, +)
        return e.map { Float($0 / s) }
    }

    /// LayerNorm over each row: `y = (x − mean) / sqrt(var + eps) · weight + bias`, biased variance
    /// (PyTorch `nn.LayerNorm`). `out` may alias `x`.
    public static func layerNorm(
        _ x: UnsafePointer<Float>, rows: Int, cols: Int, weight: UnsafePointer<Float>?, bias: UnsafePointer<Float>?,
        eps: Float, into out: UnsafeMutablePointer<Float>
    ) {
        let (px, po) = (SendablePointer(x), SendablePointer(out))
        let (pw, pb) = (weight.map(SendablePointer.init), bias.map(SendablePointer.init))
        let blocks = ComputeThreads.ranges(rows, minimum: max(1, 16384 / max(cols, 1)))
        ComputeThreads.parallelFor(blocks.count) { blk in
            for r in blocks[blk] {
                layerNormRow(px.pointer + r * cols, cols: cols, weight: pw?.pointer, bias: pb?.pointer, eps: eps, into: po.pointer + r * cols)
            }
        }
    }

    /// The same LayerNorm on the calling thread only (inside loops that are already parallel).
    public static func layerNormSerial(
        _ x: UnsafePointer<Float>, rows: Int, cols: Int, weight: UnsafePointer<Float>?, bias: UnsafePointer<Float>?,
        eps: Float, into out: UnsafeMutablePointer<Float>
    ) {
        for r in 0..<rows { layerNormRow(x + r * cols, cols: cols, weight: weight, bias: bias, eps: eps, into: out + r * cols) }
    }

    @inline(__always)
    static func layerNormRow(
        _ x: UnsafePointer<Float>, cols n: Int, weight: UnsafePointer<Float>?, bias: UnsafePointer<Float>?, eps: Float,
        into y: UnsafeMutablePointer<Float>
    ) {
        let raw = UnsafeRawPointer(x)
        var acc = SIMD8<Float>(repeating: 0)
        var i = 0
        while i + 8 <= n {
            acc += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        var sum = acc.sum()
        while i < n {
            sum += x[i]
            i += 1
        }
        let mean = sum / Float(n)
        let mv = SIMD8<Float>(repeating: mean)
        var sq = SIMD8<Float>(repeating: 0)
        i = 0
        while i + 8 <= n {
            let d = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - mv
            sq += d * d
            i += 8
        }
        var ss = sq.sum()
        while i < n {
            let d = x[i] - mean
            ss += d * d
            i += 1
        }
        let inv = 1 / (ss / Float(n) + eps).squareRoot()
        for j in 0..<n {
            var v = (x[j] - mean) * inv
            if let weight { v *= weight[j] }
            if let bias { v += bias[j] }
            y[j] = v
        }
    }

    /// GroupNorm of a `[channels, time]` matrix: each group of `channels/groups` rows is normalised over all its
    /// elements (biased variance), then a per-channel affine. With groups == channels this is wav2vec 2.0's
    /// "group" mode: per-channel normalisation over the whole time axis.
    public static func groupNorm(
        _ x: UnsafeMutablePointer<Float>, channels: Int, time: Int, groups: Int, weight: UnsafePointer<Float>?,
        bias: UnsafePointer<Float>?, eps: Float
    ) {
        precondition(groups > 0 && channels % groups == 0)
        let per = channels / groups
        let px = SendablePointer(x)
        let (pw, pb) = (weight.map(SendablePointer.init), bias.map(SendablePointer.init))
        let blocks = ComputeThreads.ranges(groups, minimum: 8)
        ComputeThreads.parallelFor(blocks.count) { blk in
            for g in blocks[blk] {
                let base = px.pointer + g * per * time
                let n = per * time
                var sum: Double = 0
                for i in 0..<n { sum += Double(base[i]) }
                let mean = sum / Double(n)
                var ss: Double = 0
                for i in 0..<n {
                    let d = Double(base[i]) - mean
                    ss += d * d
                }
                let inv = Float(1 / (ss / Double(n) + Double(eps)).squareRoot())
                let m = Float(mean)
                for c in 0..<per {
                    let ch = g * per + c
                    let w = pw.map { $0.pointer[ch] } ?? 1
                    let b = pb.map { $0.pointer[ch] } ?? 0
                    let row = base + c * time
                    for t in 0..<time { row[t] = (row[t] - m) * inv * w + b }
                }
            }
        }
    }
}
