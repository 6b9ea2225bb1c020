#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Natural logarithm over a buffer, written so that LLVM's loop vectoriser turns it into SSE code: the log-mel
/// step needs 128 logs per frame, and one `logf` call each cost as much as the frame's FFT.
///
/// Algorithm: Cephes `logf` (S. L. Moshier): `x = m·2^e` with `m ∈ [√½, √2)`, `ln x = e·ln2 + ln(m)`, where
/// `ln(1 + f)` for `f = m − 1` is `f − f²/2 + f³·P(f)` with Cephes' degree-8 minimax `P`, and `ln 2` split in two
/// (0.693359375 − 2.12194440e-4) so `e·ln2` adds no rounding. Peak relative error 7.6e-8 on [½, 2] (about 1 ulp,
/// like glibc's `logf` and torch's Sleef `logf_u10`); `VectorLogTests` checks it against `logf`.
///
/// A plain per-element loop with integer bit tricks and no branches: explicit `SIMD4`/`SIMD8` code for this was
/// partly scalarised by LLVM's SLP vectoriser on baseline x86-64 and ran slower than `logf`.
public enum VectorLog {
    /// `ln(max(x, floor))` for every element of `values[0..<count]`, in place; `floor` must be a positive normal
    /// number. Buffers holding NaN or ±∞ go through `logf` element by element (NaN stays NaN, +∞ stays +∞).
    public static func flooredLog(_ values: UnsafeMutablePointer<Float>, count: Int, floor: Float) {
        // Exponent field all ones ⇔ NaN or ±∞; OR-ed without branches so this scan vectorises too.
        var exponentsAllOnes: UInt32 = 0
        for i in 0..<count {
            let exponent = values[i].bitPattern & 0x7F80_0000
            exponentsAllOnes |= exponent == 0x7F80_0000 ? 1 : 0
        }
        if exponentsAllOnes != 0 {
            for i in 0..<count where !values[i].isNaN { values[i] = logf(Swift.max(values[i], floor)) }
            return
        }
        for i in 0..<count {
            let v = values[i] < floor ? floor : values[i]
            // x = m·2^e with m ∈ [√½, √2), in integer arithmetic: subtracting the bits of √½ (0x3F3504F3) makes the
            // exponent field step exactly where the mantissa crosses √½.
            let shifted = Int32(bitPattern: v.bitPattern) &- 0x3F35_04F3
            let e = Float(shifted >> 23)
            let m = Float(bitPattern: UInt32(bitPattern: (shifted & 0x007F_FFFF) &+ 0x3F35_04F3))
            let x = m - 1
            let z = x * x
            var p: Float = 7.0376836292e-2
            p = p * x - 1.1514610310e-1
            p = p * x + 1.1676998740e-1
            p = p * x - 1.2420140846e-1
            p = p * x + 1.4249322787e-1
            p = p * x - 1.6668057665e-1
            p = p * x + 2.0000714765e-1
            p = p * x - 2.4999993993e-1
            p = p * x + 3.3333331174e-1
            var y = p * x * z
            y += e * -2.12194440e-4
            y -= 0.5 * z
            values[i] = (x + y) + e * 0.693359375
        }
    }
}
