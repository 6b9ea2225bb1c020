/// Vectorised exp and erf for SIMD8<Float>, accurate to a few ulp, written only with operations that compile
/// to plain vector code on baseline x86-64 (SWIFT-NOTES §3: no `rounded(_:)`, `clamped`, `addProduct`,
/// or `init(_:rounding:)`, which fall back to per-lane calls).
public enum FastMath {
    /// exp(x) by range reduction `x = n·ln2 + r`, |r| ≤ ln2/2, and the Cephes `expf` polynomial for e^r
    /// (relative error ≈ 1e-7). Inputs are clamped to the finite float range of exp.
    @inline(__always)
    public static func exp(_ v: SIMD8<Float>) -> SIMD8<Float> {
        var x = v
        x.replace(with: SIMD8(repeating: 88.3762626647949), where: x .> SIMD8(repeating: 88.3762626647949))
        x.replace(with: SIMD8(repeating: -87.3365447504), where: x .< SIMD8(repeating: -87.3365447504))
        // n = round(x / ln 2) with the 1.5·2^23 trick: adding it leaves n in the low mantissa bits.
        let magic = SIMD8<Float>(repeating: 12_582_912.0)
        let shifted = x * SIMD8(repeating: 1.44269504088896341) + magic
        let n = shifted - magic
        // r = x - n·ln2 with ln2 split in two parts for exactness.
        var r = x - n * SIMD8(repeating: 0.693359375)
        r = r - n * SIMD8(repeating: -2.12194440e-4)
        let r2 = r * r
        var p = SIMD8<Float>(repeating: 1.9875691500e-4)
        p = p * r + SIMD8(repeating: 1.3981999507e-3)
        p = p * r + SIMD8(repeating: 8.3334519073e-3)
        p = p * r + SIMD8(repeating: 4.1665795894e-2)
        p = p * r + SIMD8(repeating: 1.6666665459e-1)
        p = p * r + SIMD8(repeating: 5.0000001201e-1)
        let er = p * r2 + r + SIMD8(repeating: 1)
        // 2^n assembled in the exponent field.
        let ni = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- unsafeBitCast(magic, to: SIMD8<Int32>.self)
        let scale = unsafeBitCast((ni &+ 127) &<< 23, to: SIMD8<Float>.self)
        return er * scale
    }

    /// erf(x) as the ratio of an odd degree-13 and an even degree-8 polynomial on [-4, 4] (the rational
    /// approximation used by Eigen and XLA for float32; outside that range erf is ±1 in float32).
    @inline(__always)
    public static func erf(_ v: SIMD8<Float>) -> SIMD8<Float> {
        var x = v
        x.replace(with: SIMD8(repeating: 4), where: x .> SIMD8(repeating: 4))
        x.replace(with: SIMD8(repeating: -4), where: x .< SIMD8(repeating: -4))
        let x2 = x * x
        var p = x2 * SIMD8(repeating: -2.72614225801306e-10) + SIMD8(repeating: 2.77068142495902e-08)
        p = x2 * p + SIMD8(repeating: -2.10102402082508e-06)
        p = x2 * p + SIMD8(repeating: -5.69250639462346e-05)
        p = x2 * p + SIMD8(repeating: -7.34990630326855e-04)
        p = x2 * p + SIMD8(repeating: -2.95459980854025e-03)
        p = x2 * p + SIMD8(repeating: -1.60960333262415e-02)
        p = x * p
        var q = x2 * SIMD8(repeating: -1.45660718464996e-05) + SIMD8(repeating: -2.13374055278905e-04)
        q = x2 * q + SIMD8(repeating: -1.68282697438203e-03)
        q = x2 * q + SIMD8(repeating: -7.37332916720468e-03)
        q = x2 * q + SIMD8(repeating: -1.42647390514189e-02)
        return p / q
    }
}
