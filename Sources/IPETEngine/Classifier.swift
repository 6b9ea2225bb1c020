import Foundation
import IPETAudio
import IPETModels
import IPETTensor

/// How logits become scores.
public enum ScoreActivation: String, Sendable, CaseIterable {
    case sigmoid, softmax, none

    public func apply(_ logits: [Float]) -> [Float] {
        switch self {
        case .none: return logits
        case .sigmoid: return logits.map { 1 / (1 + Foundation.exp(-$0)) }
        case .softmax:
            let m = logits.max() ?? 0
            let e = logits.map { Foundation.exp(Double($0 - m)) }
            let s = e.reduce(0, +)
            return e.map { Float($0 / s) }
        }
    }
}

/// One answer for one input.
public struct Prediction: Sendable {
    public let logits: [Float]
    public let scores: [Float]
    public let labels: [String]
    public var seconds: (features: Double, model: Double)

    /// The `k` best (label, score) pairs, best first; ties keep label order.
    public func top(_ k: Int) -> [(label: String, score: Float)] {
        let order = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
        return order.prefix(k).map { (labels[$0], scores[$0]) }
    }
}

/// Runs a backbone's own classification head on audio files.
public final class Classifier: @unchecked Sendable {
    public let backbone: Backbone
    public let activation: ScoreActivation

    public init(backbone: Backbone, activation: ScoreActivation? = nil) throws {
        if case .wav2vec2(_, head: .xvector?) = backbone.model {
            throw AudioPipelineError(path: backbone.source, message: "this is a speaker-embedding (x-vector) checkpoint: use `ipet embed`")
        }
        guard !backbone.labels.isEmpty else {
            throw AudioPipelineError(path: backbone.source, message: "the checkpoint has no classification head (pass a pack with --pack)")
        }
        self.backbone = backbone
        self.activation = activation ?? (backbone.multiLabel ? .sigmoid : .softmax)
    }

    /// Decodes, resamples, extracts features and runs the model.
    public func classify(file path: String, workspace: Workspace = Workspace()) throws -> Prediction {
        let samples = try AudioInput.load(path, sampleRate: backbone.sampleRate)
        return try classify(samples: samples, source: path, workspace: workspace)
    }

    public func classify(samples: [Float], source: String, workspace: Workspace = Workspace()) throws -> Prediction {
        let t0 = DispatchTime.now().uptimeNanoseconds
        switch backbone.model {
        case let .wav2vec2(model, head):
            guard case let .sequenceClassification(classifier)? = head else {
                throw AudioPipelineError(path: source, message: "no classification head")
            }
            let values = try inputValues(samples, source: source)
            let t1 = DispatchTime.now().uptimeNanoseconds
            let output = try model.forward(Tensor(shape: [1, values.count], values: values),
                                           outputHiddenStates: classifier.needsHiddenStates, workspace: workspace)
            let logits = classifier(output).array
            let t2 = DispatchTime.now().uptimeNanoseconds
            return Prediction(logits: logits, scores: activation.apply(logits), labels: backbone.labels,
                              seconds: (Double(t1 - t0) / 1e9, Double(t2 - t1) / 1e9))
        case let .ast(ast):
            let config = backbone.spectrogram!
            let features: [Float]
            do {
                features = try SpectrogramFeatures(config).compute(samples)
            } catch {
                throw AudioPipelineError(path: source, message: "\(error)")
            }
            let input = Tensor(shape: [1, config.maxLength, config.melBins], values: features)
            let t1 = DispatchTime.now().uptimeNanoseconds
            let output = try ast.forward(input, workspace: workspace)
            let t2 = DispatchTime.now().uptimeNanoseconds
            let logits = output.logits!.array
            return Prediction(logits: logits, scores: activation.apply(logits), labels: backbone.labels,
                              seconds: (Double(t1 - t0) / 1e9, Double(t2 - t1) / 1e9))
        }
    }

    /// wav2vec 2.0 `input_values` for one unpadded clip.
    func inputValues(_ samples: [Float], source: String) throws -> [Float] {
        do {
            return try WaveformNormalizer(backbone.waveform!).process(samples, sampleRate: backbone.sampleRate)
        } catch {
            throw AudioPipelineError(path: source, message: "\(error)")
        }
    }
}
