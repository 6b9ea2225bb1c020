import Foundation
import IPETTensor

/// Softmax-weighted sum of the hidden states (`use_weighted_layer_sum`): `Σ_i softmax(w)_i · h_i`.
struct WeightedLayerSum: Sendable {
    let weights: Tensor  // [layers + 1]

    func callAsFunction(_ states: [Tensor]) -> Tensor {
        let w = Kernels.softmax(weights.array)
        let out = Tensor(zeros: states[0].shape)
        for (i, s) in states.enumerated() { Kernels.addScaled(s.data, scale: w[i], into: out.mutableData, count: s.count) }
        return out
    }
}
