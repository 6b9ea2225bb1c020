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

    /// `x ← x · s`.
    public static func scale(_ x: UnsafeMutablePointer<Float>, by s: Float, count n: Int) {
        for i in 0..<n { x[i] *= s }
    }

    /// GELU, exact erf form: `0.5·x·(1 + erf(x/√2))` (PyTorch `nn.GELU()`, transformers "gelu").
    public static func gelu(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        let blocks = ComputeThreads.ranges(n / 8, minimum: 4096)
        let p = SendablePointer(x)
        ComputeThreads.parallelFor(blocks.count) { b in
            let raw = UnsafeMutableRawPointer(p.pointer)
            let half = SIMD8<Float>(repeating: 0.5), one = SIMD8<Float>(repeating: 1)
            let invSqrt2 = SIMD8<Float>(repeating: 0.70710678118654752)
            for i in blocks[b] {
                let v = raw.loadUnaligned(fromByteOffset: i * 32, as: SIMD8<Float>.self)
                let y = half * v * (one + FastMath.erf(v * invSqrt2))
                raw.storeBytes(of: y, toByteOffset: i * 32, as: SIMD8<Float>.self)
            }
        }
        for i in (n / 8 * 8)..<n {
            x[i] = 0.5 * x[i] * (1 + Foundation.erf(x[i] * 0.70710678118654752))
        }
    }

    /// ReLU in place.
    public static func relu(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        for i in 0..<n where x[i] < 0 { x[i] = 0 }
    }

    /// Numerically stable softmax over each row of a `rows × cols` matrix, in place.
    public static func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        for r in 0..<rows { softmax(x + r * cols, count: cols) }
    }

    /// Softmax of one vector in place: `exp(x − max) / Σ exp(x − max)`.
    public static func softmax(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        guard n > 0 else { return }
        let raw = UnsafeMutableRawPointer(x)
        var maxValue = -Float.infinity
        var i = 0
        if n >= 8 {
            var m = SIMD8<Float>(repeating: -.infinity)
            while i + 8 <= n {
                let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                m.replace(with: v, where: v .> m)
                i += 8
            }
            maxValue = m.max()
        }
        while i < n {
            maxValue = Swift.max(maxValue, x[i])
            i += 1
        }
        let mv = SIMD8<Float>(repeating: maxValue)
        var acc = SIMD8<Float>(repeating: 0)
        i = 0
        while i + 8 <= n {
            let e = FastMath.exp(raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - mv)
            raw.storeBytes(of: e, toByteOffset: i * 4, as: SIMD8<Float>.self)
            acc += e
            i += 8
        }
        var sum = acc.sum()
        while i < n {
            let e = Foundation.exp(x[i] - maxValue)
            x[i] = e
            sum += e
            i += 1
        }
        let inv = 1 / sum
        i = 0
        let iv = SIMD8<Float>(repeating: inv)
        while i + 8 <= n {
            raw.storeBytes(of: raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) * iv, toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n {
            x[i] *= inv
            i += 1
        }
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
