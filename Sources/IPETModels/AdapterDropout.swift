import IPETTensor

/// Dropout on an adapter's bottleneck in training (`docs/ipet-method.md` §2: p = 0.1 after the ReLU): each element is
/// kept with probability 1 − p and scaled by 1/(1 − p), as `nn.Dropout`. The mask is a function of `seed` alone, so
/// the backward pass (which recomputes the layer) draws the same mask as the forward. PyTorch's own random stream
/// cannot be reproduced; tests check the mask by its statistics.
public struct AdapterDropout: Sendable, Equatable {
    public let probability: Float
    public let seed: UInt64

    public init(probability: Float, seed: UInt64) {
        precondition(probability >= 0 && probability < 1)
        self.probability = probability
        self.seed = seed
    }

    /// `x[i] ← x[i] · m[i]` for the mask `m[i] ∈ {0, 1/(1 − p)}` of the first `count` elements.
    public func apply(_ x: UnsafeMutablePointer<Float>, count: Int) {
        guard probability > 0 else { return }
        var generator = SeededRandomGenerator(seed: seed)
        let keep = 1 / (1 - probability)
        for i in 0..<count { x[i] = generator.uniform() < probability ? 0 : x[i] * keep }
    }
}
