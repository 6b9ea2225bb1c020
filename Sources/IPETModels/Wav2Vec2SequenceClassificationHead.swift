import Foundation
import IPETTensor

/// transformers' `Wav2Vec2ForSequenceClassification` head (`docs/model-numerics.md` §B.7): optional weighted layer sum,
/// `projector` on every frame, mean over the valid frames, `classifier`.
public struct Wav2Vec2SequenceClassificationHead: Sendable {
    let layerSum: WeightedLayerSum?
    public let projector: Linear
    public let classifier: Linear

    public init(config: Wav2Vec2Configuration, weights: WeightStore) throws(ModelError) {
        let d = config.hiddenSize, p = config.classifierProjectionSize
        layerSum = config.useWeightedLayerSum ? WeightedLayerSum(weights: try weights.tensor("layer_weights", shape: [config.layers + 1])) : nil
        projector = try Linear(weights.scope("projector"), in: d, out: p)
        let labels = try weights.tensor("classifier.weight").shape[0]
        classifier = try Linear(weights.scope("classifier"), in: p, out: labels)
    }

    public var needsHiddenStates: Bool { layerSum != nil }

    /// Logits `[batch, labels]`.
    public func callAsFunction(_ output: Wav2Vec2Model.Output) -> Tensor {
        let pooled = pooledProjection(output)
        let logits = Tensor(zeros: [pooled.shape[0], classifier.outFeatures])
        classifier(pooled.data, rows: pooled.shape[0], into: logits.mutableData)
        return logits
    }

    /// `[batch, classifier_proj_size]`: the projected frames averaged over each item's valid frames.
    public func pooledProjection(_ output: Wav2Vec2Model.Output) -> Tensor {
        let h = layerSum.map { $0(output.hiddenStates) } ?? output.lastHiddenState
        let (batch, t) = (h.shape[0], h.shape[1])
        let p = projector.outFeatures
        let projected = Tensor(zeros: [batch * t, p])
        projector(h.data, rows: batch * t, into: projected.mutableData)
        let pooled = Tensor(zeros: [batch, p])
        for b in 0..<batch {
            let n = output.frames[b]
            let dst = pooled.mutableData + b * p
            for f in 0..<n { Kernels.add(dst, projected.data + (b * t + f) * p, into: dst, count: p) }
            Kernels.scale(dst, by: 1 / Float(n), count: p)
        }
        return pooled
    }
}
