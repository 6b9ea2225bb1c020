import Foundation
import IPETTensor

/// transformers' `Wav2Vec2ForXVector` head (§B.7): projector, dilated TDNN layers with ReLU, statistics pooling
/// (mean and unbiased std over time), `feature_extractor` → embeddings, `classifier` → logits.
public struct Wav2Vec2XVectorHead: Sendable {
    struct TDNN: Sendable {
        let kernel: Linear  // weight [out, k·in], columns (tap, channel)
        let taps: Int
        let dilation: Int
    }

    let layerSum: WeightedLayerSum?
    let projector: Linear
    let tdnn: [TDNN]
    let embedding: Linear
    let classifier: Linear

    public init(config: Wav2Vec2Configuration, weights: WeightStore) throws(ModelError) {
        layerSum = config.useWeightedLayerSum ? WeightedLayerSum(weights: try weights.tensor("layer_weights", shape: [config.layers + 1])) : nil
        projector = try Linear(weights.scope("projector"), in: config.hiddenSize, out: config.tdnnDim[0])
        var tdnn: [TDNN] = []
        var inDim = config.tdnnDim[0]
        for (i, out) in config.tdnnDim.enumerated() {
            let k = config.tdnnKernel[i]
            tdnn.append(TDNN(kernel: try Linear(weights.scope("tdnn.\(i).kernel"), in: k * inDim, out: out), taps: k,
                             dilation: config.tdnnDilation[i]))
            inDim = out
        }
        self.tdnn = tdnn
        embedding = try Linear(weights.scope("feature_extractor"), in: 2 * inDim, out: config.xvectorOutputDim)
        classifier = try Linear(weights.scope("classifier"), in: config.xvectorOutputDim, out: config.xvectorOutputDim)
    }

    public var needsHiddenStates: Bool { layerSum != nil }

    /// Size of the x-vector.
    public var embeddingDimension: Int { embedding.outFeatures }

    /// Frames the TDNN stack leaves from `frames` frames (dilation counted).
    public func outputFrames(_ frames: Int) -> Int { frames - tdnn.reduce(0) { $0 + $1.dilation * ($1.taps - 1) } }

    /// `(embeddings [batch, dim], logits [batch, dim])`. With padding (`output.frames` shorter than the padded
    /// length), the pooled length follows transformers' `_get_tdnn_output_lengths`, which ignores dilation.
    public func callAsFunction(_ output: Wav2Vec2Model.Output, workspace: Workspace = Workspace()) throws(ModelError) -> (embeddings: Tensor, logits: Tensor) {
        let h = layerSum.map { $0(output.hiddenStates) } ?? output.lastHiddenState
        let (batch, t) = (h.shape[0], h.shape[1])
        let tOut = outputFrames(t)
        guard tOut >= 2 else { throw ModelError("xvector", "\(t) frames are too few for the TDNN stack (needs \(t - tOut + 2))") }
        let lastDim = tdnn.last!.kernel.outFeatures
        let stats = Tensor(zeros: [batch, 2 * lastDim])
        for b in 0..<batch {
            var x = workspace.buffer("xv.in", count: t * projector.outFeatures)
            projector(h.data + b * t * h.shape[2], rows: t, into: x)
            var length = t
            for (i, layer) in tdnn.enumerated() {
                let inDim = layer.kernel.inFeatures / layer.taps
                let frames = length - layer.dilation * (layer.taps - 1)
                let columns = workspace.buffer("xv.columns", count: frames * layer.kernel.inFeatures)
                for f in 0..<frames {
                    for j in 0..<layer.taps {
                        (columns + f * layer.kernel.inFeatures + j * inDim).update(from: x + (f + j * layer.dilation) * inDim, count: inDim)
                    }
                }
                let y = workspace.buffer(i % 2 == 0 ? "xv.a" : "xv.b", count: frames * layer.kernel.outFeatures)
                layer.kernel(columns, rows: frames, into: y)
                Kernels.relu(y, count: frames * layer.kernel.outFeatures)
                x = y
                length = frames
            }
            // Pooled length: all frames without padding; with padding transformers uses len − Σ(k − 1).
            var n = length
            if output.frames[b] < t {
                // transformers slices `[:frames − Σ(k − 1)]` (dilation ignored), Python semantics included: a
                // negative length counts from the end. Only callers that pad x-vector batches see this.
                n = output.frames[b] - tdnn.reduce(0) { $0 + $1.taps - 1 }
                if n < 0 { n = max(0, length + n) }
                n = min(n, length)
            }
            guard n >= 2 else { throw ModelError("xvector", "item \(b) has too few frames for statistics pooling") }
            meanAndStandardDeviation(x, frames: n, channels: lastDim, into: stats.mutableData + b * 2 * lastDim)
        }
        let embeddings = Tensor(zeros: [batch, embedding.outFeatures])
        embedding(stats.data, rows: batch, into: embeddings.mutableData)
        let logits = Tensor(zeros: [batch, classifier.outFeatures])
        classifier(embeddings.data, rows: batch, into: logits.mutableData)
        return (embeddings, logits)
    }
}
