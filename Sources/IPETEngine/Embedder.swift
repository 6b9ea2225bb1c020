import Foundation
import IPETAudio
import IPETModels
import IPETTensor

/// Which vector `Embedder` returns per clip.
public enum EmbeddingKind: Sendable, Equatable {
    /// x-vectors for x-vector checkpoints; otherwise the mean over time of the last hidden state (AST: the pooled
    /// CLS/distillation output, which is what its head reads).
    case automatic
    /// Mean over time (tokens or frames) of `hidden_states[n]`: 0 is the encoder input, `n` the output of layer n.
    case layer(Int)
    /// What the checkpoint's head pools: AST `(CLS + DIST)/2`; wav2vec 2.0 sequence classification the mean of
    /// the projected frames; x-vector the embedding; a bare wav2vec 2.0 the mean of the last hidden state.
    case pooled
}

/// Turns audio into fixed-size vectors with a backbone.
public final class Embedder: @unchecked Sendable {
    public let backbone: Backbone
    public let kind: EmbeddingKind
    private let spectrogram: SpectrogramFeatures?

    public init(backbone: Backbone, kind: EmbeddingKind) throws {
        if case let .layer(n) = kind {
            let layers: Int
            switch backbone.model {
            case let .ast(m): layers = m.config.layers
            case let .wav2vec2(m, _): layers = m.config.layers
            }
            guard (0...layers).contains(n) else {
                throw AudioPipelineError(path: backbone.source, message: "--layer \(n) is out of range 0...\(layers)")
            }
        }
        self.backbone = backbone
        self.kind = kind
        spectrogram = try backbone.spectrogram.map { try SpectrogramFeatures($0) }
    }

    public func embed(file path: String, workspace: Workspace = Workspace()) throws -> [Float] {
        try embed(samples: try AudioInput.load(path, sampleRate: backbone.sampleRate), source: path, workspace: workspace)
    }

    public func embed(samples: [Float], source: String, workspace: Workspace = Workspace()) throws -> [Float] {
        let vector = try unchecked(samples: samples, source: source, workspace: workspace)
        guard vector.allSatisfy(\.isFinite) else { throw AudioPipelineError.nonFinite("the embedding", path: source) }
        return vector
    }

    private func unchecked(samples: [Float], source: String, workspace: Workspace) throws -> [Float] {
        var layer: Int? = nil
        if case let .layer(n) = kind { layer = n }
        switch backbone.model {
        case let .ast(model):
            let config = backbone.spectrogram!
            let features: [Float]
            do { features = try spectrogram!.compute(samples) } catch {
                throw AudioPipelineError(path: source, message: "\(error)")
            }
            let output = try model.forward(Tensor(shape: [1, config.maxLength, config.melBins], values: features),
                                           outputHiddenStates: layer != nil, workspace: workspace)
            if let layer { return Self.meanOverTime(output.hiddenStates[layer]) }
            return output.pooled.array
        case let .wav2vec2(model, head):
            let values: [Float]
            do { values = try WaveformNormalizer(backbone.waveform!).process(samples, sampleRate: backbone.sampleRate) } catch {
                throw AudioPipelineError(path: source, message: "\(error)")
            }
            let needsStates = layer != nil || (head?.needsHiddenStates ?? false)
            let output = try model.forward(Tensor(shape: [1, values.count], values: values), outputHiddenStates: needsStates,
                                           workspace: workspace)
            if let layer { return Self.meanOverTime(output.hiddenStates[layer]) }
            switch (kind, head) {
            case (_, .xvector(let h)?):
                do { return try h(output, workspace: workspace).embeddings.array } catch {
                    throw AudioPipelineError(path: source, message: "\(error)")
                }
            case (.pooled, .sequenceClassification(let h)?):
                return h.pooledProjection(output).array
            default:
                return Self.meanOverTime(output.lastHiddenState)
            }
        }
    }

    /// Mean over the time axis of a `[1, T, D]` tensor.
    static func meanOverTime(_ t: Tensor) -> [Float] {
        let (n, d) = (t.shape[1], t.shape[2])
        var out = [Double](repeating: 0, count: d)
        for i in 0..<n { for j in 0..<d { out[j] += Double(t.data[i * d + j]) } }
        return out.map { Float($0 / Double(n)) }
    }
}
