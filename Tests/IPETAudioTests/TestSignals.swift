import Foundation

/// Deterministic test waveforms (computed in Double, stored as Float).
enum TestSignals {
    /// `amplitude · sin(2π · frequency · n / rate)` for n = 0 ..< count.
    static func sine(frequency: Double, amplitude: Double, rate: Double, count: Int) -> [Float] {
        let step = 2 * Double.pi * frequency / rate
        return (0..<count).map { n in Float(amplitude * sin(step * Double(n))) }
    }

    /// Reproducible uniform noise in [-amplitude, amplitude) from a 64-bit LCG.
    static func noise(amplitude: Double, count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let unit = Double(state >> 11) / Double(1 << 53)
            return Float(amplitude * (2 * unit - 1))
        }
    }
}
