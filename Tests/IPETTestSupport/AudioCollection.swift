import Foundation

/// Deterministic pseudo-random numbers for test data (SplitMix64).
public struct TestRandom {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    public mutating func int(_ range: Range<Int>) -> Int { range.lowerBound + Int(next() % UInt64(range.count)) }
}

/// A synthetic test signal: a few tones plus noise, `seconds` long at `rate`, `channels` interleaved.
public func syntheticAudio(seconds: Double, rate: Int, channels: Int, seed: UInt64) -> [Float] {
    var random = TestRandom(seed: seed)
    let n = max(1, Int(seconds * Double(rate)))
    let f1 = 100 + 2000 * random.unit(), f2 = 50 + 500 * random.unit(), amp = 0.1 + 0.4 * random.unit()
    var out = [Float](repeating: 0, count: n * channels)
    for i in 0..<n {
        let t = Double(i) / Double(rate)
        let base = amp * sin(2 * .pi * f1 * t) + 0.3 * amp * sin(2 * .pi * f2 * t)
        for c in 0..<channels { out[i * channels + c] = Float(base + 0.05 * (random.unit() - 0.5) + 0.02 * Double(c)) }
    }
    return out
}
