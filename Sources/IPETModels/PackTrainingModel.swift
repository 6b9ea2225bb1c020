import IPETTensor

/// IPET's trainable model: a frozen backbone with a pack's prompts, adapters and head (`PackParameters`), giving the
/// loss of a batch and the gradient of every pack parameter. Only what lies between the trainable parameters and the
/// loss is differentiated: the part below the first adapted layer (AST patch embedding; wav2vec 2.0 conv encoder,
/// projection and positional convolution) is computed once per input by `frozenFeatures` and can be cached; without
/// prompts and adapters the whole backbone is frozen and `frozenFeatures` gives the head's pooled input.
public final class PackTrainingModel: @unchecked Sendable {
    public enum Backbone: @unchecked Sendable {
        /// AST with the position table of the task's input length.
        case ast(AudioSpectrogramTransformer, positions: Tensor)
        case wav2vec2(Wav2Vec2Model)
    }

    /// The frozen part of a batch: the first layer's input `[batch, tokens, hidden]` when layers are adapted, else the
    /// pooled head input `[batch, width]`; wav2vec 2.0 also keeps its valid frames (all, unless a padded batch).
    public struct FrozenFeatures: Sendable {
        public let values: Tensor
        public let frames: [Int]?
        public let keyLengths: [Int]?

        public var batch: Int { values.shape[0] }

        /// Item `i` alone (a view of the same storage).
        public func item(_ i: Int) -> FrozenFeatures {
            FrozenFeatures(values: values.rows(i, count: 1), frames: frames.map { [$0[i]] }, keyLengths: keyLengths.map { [$0[i]] })
        }

        /// Items of equal shape as one batch, in order.
        public static func batch(_ items: [FrozenFeatures]) -> FrozenFeatures {
            let first = items[0]
            let t = Tensor(zeros: [items.reduce(0) { $0 + $1.batch }] + first.values.shape.dropFirst())
            var offset = 0
            for item in items {
                precondition(item.values.shape.dropFirst() == first.values.shape.dropFirst(), "items differ in shape")
                (t.mutableData + offset).update(from: item.values.data, count: item.values.count)
                offset += item.values.count
            }
            let frames = first.frames == nil ? nil : items.flatMap { $0.frames! }
            let keys = items.contains { $0.keyLengths != nil } ? items.flatMap { $0.keyLengths ?? $0.frames! } : nil
            return FrozenFeatures(values: t, frames: frames, keyLengths: keys)
        }
    }

    public let backbone: Backbone
    public let parameters: PackParameters
    let source: String

    public init(backbone: Backbone, parameters: PackParameters, source: String) throws(ModelError) {
        let layout = parameters.layout
        let (architecture, hidden, layers): (Architecture, Int, Int)
        switch backbone {
        case let .ast(m, positions):
            (architecture, hidden, layers) = (.ast, m.config.hiddenSize, m.config.layers)
            guard positions.rank == 2, positions.shape[1] == hidden else {
                throw ModelError(source, "the position table has shape \(positions.shape), expected [tokens, \(hidden)]")
            }
        case let .wav2vec2(m):
            (architecture, hidden, layers) = (.wav2vec2, m.config.hiddenSize, m.config.layers)
            if layout.adapterResidual, m.config.stableLayerNorm {
                throw ModelError(source, "the adapter residual reproduces the official post-LN wav2vec 2.0 code; this backbone is pre-LN")
            }
        }
        guard layout.architecture == architecture, layout.hiddenSize == hidden, layout.layers == layers else {
            throw ModelError(source, "the pack layout is for \(layout.architecture.rawValue) with hidden \(layout.hiddenSize) and "
                             + "\(layout.layers) layers; the backbone is \(architecture.rawValue) with hidden \(hidden) and \(layers) layers")
        }
        self.backbone = backbone
        self.parameters = parameters
        self.source = source
    }

    /// The frozen part for a batch of model inputs: AST features `[batch, frames, melBins]`, or wav2vec 2.0 waveforms
    /// `[batch, samples]` (`validSamples` marks right-padding, as in `Wav2Vec2Model.forward`).
    public func frozenFeatures(_ input: Tensor, validSamples: [Int]? = nil, workspace: Workspace) throws(ModelError) -> FrozenFeatures {
        let adapted = parameters.layout.adaptsLayers
        switch backbone {
        case let .ast(model, positions):
            if adapted { return FrozenFeatures(values: try model.embed(input, positionEmbeddings: positions), frames: nil, keyLengths: nil) }
            let out = try model.forward(input, positionEmbeddings: positions, workspace: workspace)
            return FrozenFeatures(values: out.pooled, frames: nil, keyLengths: nil)
        case let .wav2vec2(model):
            if adapted {
                let e = try model.embed(input, validSamples: validSamples, workspace: workspace)
                return FrozenFeatures(values: e.hidden, frames: e.frames, keyLengths: e.keyLengths)
            }
            let out = try model.forward(input, validSamples: validSamples, workspace: workspace)
            try Self.checkFrames(out.frames, source: source)
            return FrozenFeatures(values: TaskHead.meanStd(out), frames: out.frames, keyLengths: nil)
        }
    }

    /// The result of `accumulateGradients`.
    public struct Step {
        /// `Σ_items` cross-entropy of the batch (double precision).
        public let loss: Double
        /// `[batch, classes]`.
        public let logits: Tensor
    }

    /// Runs `features` forward with `labels`, and adds to `parameters.gradients` the gradient of `lossScale` times the
    /// summed cross-entropy (PyTorch's batch mean: `lossScale = 1/N` for a batch of N, also when it runs in several
    /// groups). `dropouts[l]` (training) masks layer l's adapter bottleneck; nil runs without dropout.
    public func accumulateGradients(_ features: FrozenFeatures, labels: [Int], lossScale: Float, dropouts: [AdapterDropout?]? = nil,
                                    workspace: Workspace) throws(ModelError) -> Step {
        let p = parameters, drop = dropouts ?? Array(repeating: nil, count: p.layout.layers)
        guard drop.count == p.layout.layers else { throw ModelError(source, "\(drop.count) dropout masks for \(p.layout.layers) layers") }
        guard labels.count == features.batch, labels.allSatisfy({ (0..<p.layout.classes).contains($0) }) else {
            throw ModelError(source, "labels must be \(features.batch) class indices below \(p.layout.classes)")
        }
        if !p.layout.adaptsLayers {
            let logits = try p.head.logits(pooled: features.values)
            let (loss, dLogits) = CrossEntropy.lossAndGradient(logits: logits, labels: labels, scale: lossScale)
            _ = try p.head.backward(pooled: features.values, logitsGradient: dLogits, gradient: p.headGradient)
            return Step(loss: loss, logits: logits)
        }
        switch backbone {
        case let .ast(model, _):
            let (pooled, activations) = model.trainingForward(features.values, adaptations: p.adaptations, dropouts: drop, workspace: workspace)
            let logits = try p.head.logits(pooled: pooled)
            let (loss, dLogits) = CrossEntropy.lossAndGradient(logits: logits, labels: labels, scale: lossScale)
            let dPooled = try p.head.backward(pooled: pooled, logitsGradient: dLogits, gradient: p.headGradient)
            model.backward(activations, pooledGradient: dPooled, adaptations: p.adaptations, gradients: p.adaptationGradients,
                           dropouts: drop, workspace: workspace)
            return Step(loss: loss, logits: logits)
        case let .wav2vec2(model):
            let frames = try framesOf(features)
            let (output, activations) = model.trainingForward(features.values, keyLengths: features.keyLengths, adaptations: p.adaptations,
                                                              dropouts: drop, workspace: workspace)
            let pooled = TaskHead.meanStd(output, frames: frames)
            let logits = try p.head.logits(pooled: pooled)
            let (loss, dLogits) = CrossEntropy.lossAndGradient(logits: logits, labels: labels, scale: lossScale)
            let dPooled = try p.head.backward(pooled: pooled, logitsGradient: dLogits, gradient: p.headGradient)
            let dOutput = TaskHead.meanStdBackward(output, frames: frames, pooledGradient: dPooled)
            model.backward(activations, outputGradient: dOutput, adaptations: p.adaptations, gradients: p.adaptationGradients,
                           dropouts: drop, workspace: workspace)
            return Step(loss: loss, logits: logits)
        }
    }

    /// The logits `[batch, classes]` of `features` without dropout (validation).
    public func logits(_ features: FrozenFeatures, workspace: Workspace) throws(ModelError) -> Tensor {
        let p = parameters
        guard p.layout.adaptsLayers else { return try p.head.logits(pooled: features.values) }
        let none = [AdapterDropout?](repeating: nil, count: p.layout.layers)
        switch backbone {
        case let .ast(model, _):
            let (pooled, _) = model.trainingForward(features.values, adaptations: p.adaptations, dropouts: none, keepInputs: false,
                                                    workspace: workspace)
            return try p.head.logits(pooled: pooled)
        case let .wav2vec2(model):
            let frames = try framesOf(features)
            let (output, _) = model.trainingForward(features.values, keyLengths: features.keyLengths, adaptations: p.adaptations,
                                                    dropouts: none, keepInputs: false, workspace: workspace)
            return try p.head.logits(pooled: TaskHead.meanStd(output, frames: frames))
        }
    }

    private func framesOf(_ features: FrozenFeatures) throws(ModelError) -> [Int] {
        let frames = features.frames ?? Array(repeating: features.values.shape[1], count: features.batch)
        try Self.checkFrames(frames, source: source)
        return frames
    }

    /// Mean-std pooling's unbiased standard deviation needs two frames.
    static func checkFrames(_ frames: [Int], source: String) throws(ModelError) {
        if let shortest = frames.min(), shortest < 2 {
            throw ModelError(source, "an input gives \(shortest) frame; mean and standard-deviation pooling needs at least 2")
        }
    }
}
