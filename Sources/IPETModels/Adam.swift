import Foundation
import IPETTensor

/// `torch.optim.Adam` as PyTorch 2.x computes it for CPU tensors (`_single_tensor_adam`, no AMSGrad), with weight
/// decay as L2 added to the gradient (not AdamW's decoupled decay). Per step t (from 1) and element, in float32:
///
///     g ← g + wd·p;  m ← m + (1 − β₁)·(g − m);  v ← β₂·v + (1 − β₂)·g²
///     p ← p − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + eps)
///
/// (`m` by `lerp`, the bias corrections in double precision, as PyTorch). IPET: betas (0.95, 0.999), eps 1e-8, weight
/// decay 5e-7 (`docs/ipet-method.md` §5).
public final class Adam: @unchecked Sendable {
    public struct Settings: Sendable, Equatable {
        public var beta1: Double
        public var beta2: Double
        public var eps: Double
        public var weightDecay: Double

        /// IPET's settings.
        public init(beta1: Double = 0.95, beta2: Double = 0.999, eps: Double = 1e-8, weightDecay: Double = 5e-7) {
            self.beta1 = beta1
            self.beta2 = beta2
            self.eps = eps
            self.weightDecay = weightDecay
        }
    }

    public let settings: Settings
    /// Steps taken.
    public private(set) var steps: Int
    /// First and second moments by parameter name.
    public let firstMoments: [String: Tensor]
    public let secondMoments: [String: Tensor]

    /// A fresh optimiser for tensors of these names and shapes.
    public init(settings: Settings = Settings(), shapes: [(name: String, shape: [Int])]) {
        self.settings = settings
        steps = 0
        firstMoments = Dictionary(uniqueKeysWithValues: shapes.map { ($0.name, Tensor(zeros: $0.shape)) })
        secondMoments = Dictionary(uniqueKeysWithValues: shapes.map { ($0.name, Tensor(zeros: $0.shape)) })
    }

    /// An optimiser continuing from saved moments after `steps` steps.
    public init(settings: Settings, steps: Int, firstMoments: [String: Tensor], secondMoments: [String: Tensor]) {
        self.settings = settings
        self.steps = steps
        self.firstMoments = firstMoments.mapValues { $0.copy() }
        self.secondMoments = secondMoments.mapValues { $0.copy() }
    }

    /// One step on every tensor of `parameters` from its gradient, with learning rate `learningRate`.
    public func step(_ parameters: PackParameters, learningRate: Double) {
        steps += 1
        let t = Double(steps)
        let stepSize = learningRate / (1 - Foundation.pow(settings.beta1, t))
        let correction2 = Float((1 - Foundation.pow(settings.beta2, t)).squareRoot())
        let (decay, mix1, beta2, mix2, eps) = (Float(settings.weightDecay), Float(1 - settings.beta1), Float(settings.beta2),
                                               Float(1 - settings.beta2), Float(settings.eps))
        let rate = Float(stepSize)
        for name in parameters.names {
            let p = parameters.values[name]!.mutableData, grad = parameters.gradients[name]!.data
            let m = firstMoments[name]!.mutableData, v = secondMoments[name]!.mutableData
            for i in 0..<parameters.values[name]!.count {
                let g = grad[i] + decay * p[i]
                m[i] = m[i] + mix1 * (g - m[i])
                v[i] = v[i] * beta2 + mix2 * g * g
                let denominator = v[i].squareRoot() / correction2 + eps
                p[i] = p[i] - rate * m[i] / denominator
            }
            Gemm.weightsChanged(parameters.values[name]!)
        }
    }
}
