import Foundation
import IPETAudio
import IPETFormats
import IPETModels
import IPETTensor
import Logging

/// One task on a shared backbone: either the checkpoint's own head, or an IPET adapter pack (prompts, adapters,
/// head, preprocessing). Building one never copies or reloads the backbone's weights; a pack with overrides gets
/// its own model object whose tensors are views of the same storage.
public final class TaskModel: @unchecked Sendable {
    /// The pack's file name without extension, or "backbone".
    public let name: String
    public let backbone: Backbone
    public let pack: AdapterPack?
    public let labels: [String]
    public let activation: ScoreActivation
    /// Tasks with equal keys take the same features, so they are computed once per input.
    public let featureKey: String
    /// Input samples a window holds (AST: enough for `max_length` frames; wav2vec 2.0: the pack's crop, or nil
    /// for whole clips).
    public let windowSamples: Int?
    /// The longest input one pass takes when inputs are not cut into windows (wav2vec 2.0:
    /// `Wav2Vec2Model.maximumFrames` frames); nil when the model pads or truncates to a fixed length (AST).
    public var maximumWholeSamples: Int? { wav2vec2?.config.maximumSamples }

    let ast: AudioSpectrogramTransformer?
    let wav2vec2: Wav2Vec2Model?
    let astPositions: Tensor?
    let spectrogram: SpectrogramFeatures?
    let waveform: WaveformNormalizer.Configuration?

    static let logger = Logger(label: "ipet.engine")

    public init(backbone: Backbone, pack: AdapterPack? = nil, activation: ScoreActivation? = nil, allowMismatch: Bool = false) throws {
        self.backbone = backbone
        self.pack = pack
        if let pack {
            name = URL(fileURLWithPath: pack.path).deletingPathExtension().lastPathComponent
            guard pack.preprocessing.samplingRate == backbone.sampleRate else {
                throw PackError(path: pack.path, message: "the pack was trained on \(pack.preprocessing.samplingRate) Hz audio, "
                                + "the backbone takes \(backbone.sampleRate) Hz")
            }
            let verdict = PackVerification.check(pack, against: backbone)
            switch verdict {
            case .match: break
            case let .derived(warning): Self.logger.warning("\(warning)")
            case let .mismatch(message, shapesFit):
                guard allowMismatch, shapesFit else {
                    throw PackError(path: pack.path, message: message + (shapesFit ? " (use --allow-mismatch to run it anyway)" : ""))
                }
                Self.logger.warning("running despite the mismatch: \(message)")
            }
            labels = pack.labels.isEmpty ? (0..<pack.taskHead.classCount).map { "LABEL_\($0)" } : pack.labels
            self.activation = activation ?? (pack.head.multiLabel ? .sigmoid : .softmax)
        } else {
            if case .wav2vec2(_, head: .xvector?) = backbone.model {
                throw PackError(path: backbone.source, message: "this is a speaker-embedding (x-vector) checkpoint: use `ipet embed`")
            }
            guard !backbone.labels.isEmpty else {
                throw PackError(path: backbone.source, message: "the checkpoint has no classification head (pass a pack with --pack)")
            }
            name = "backbone"
            labels = backbone.labels
            self.activation = activation ?? (backbone.multiLabel ? .sigmoid : .softmax)
        }
        let weights = pack.map { Self.overridden(backbone.weights, with: $0.overrides) } ?? backbone.weights
        switch backbone.model {
        case let .ast(model):
            var config = backbone.spectrogram!
            if let p = pack?.preprocessing {
                if let m = p.maxLength { config.maxLength = m }
                if let m = p.mean { config.mean = m }
                if let s = p.std { config.std = s }
                config.doNormalize = p.doNormalize
                if let bins = p.melBins, bins != model.config.melBins {
                    throw PackError(path: pack!.path, message: "pack uses \(bins) mel bins, the backbone \(model.config.melBins)")
                }
            }
            let astModel = pack?.overrides.isEmpty == false
                ? try AudioSpectrogramTransformer(config: model.config, weights: weights) : model
            ast = astModel
            wav2vec2 = nil
            let positionName = "audio_spectrogram_transformer.embeddings.position_embeddings"
            if let table = pack?.overrides[positionName] {
                let n = model.config.tokens(frames: config.maxLength)
                guard table.count == n * model.config.hiddenSize else {
                    throw PackError(path: pack!.path, message: "override \(positionName) has shape \(table.shape), expected [1, \(n), \(model.config.hiddenSize)]")
                }
                astPositions = table.reshaped([n, model.config.hiddenSize])
            } else {
                astPositions = try astModel.positionEmbeddings(forFrames: config.maxLength)
            }
            spectrogram = try SpectrogramFeatures(config)
            waveform = nil
            featureKey = "fbank \(config.samplingRate) \(config.melBins) \(config.maxLength) \(config.mean) \(config.std) \(config.doNormalize)"
            // Samples that give exactly max_length frames (25 ms windows every 10 ms).
            windowSamples = (config.maxLength - 1) * (config.samplingRate / 100) + config.samplingRate / 40
        case let .wav2vec2(model, _):
            var config = backbone.waveform!
            if let p = pack?.preprocessing { config.doNormalize = p.doNormalize }
            wav2vec2 = pack?.overrides.isEmpty == false ? try Wav2Vec2Model(config: model.config, weights: weights) : model
            ast = nil
            astPositions = nil
            spectrogram = nil
            waveform = config
            windowSamples = pack?.preprocessing.cropSamples
            featureKey = "waveform \(config.samplingRate) \(config.doNormalize) \(windowSamples.map(String.init) ?? "whole")"
        }
    }

    /// A shallow copy of `weights` with `overrides` replacing tensors by canonical name.
    static func overridden(_ weights: WeightStore, with overrides: [String: Tensor]) -> WeightStore {
        guard !overrides.isEmpty else { return weights }
        let copy = WeightStore(source: weights.source, tensors: weights.tensors, originalNames: weights.originalNames)
        for (name, t) in overrides { copy.insert(t, canonical: name, original: "override.\(name)") }
        return copy
    }

    /// Model input for one clip at the model rate: AST `[maxLength, melBins]` features (padded or truncated);
    /// wav2vec 2.0 `input_values` (normalised when the preprocessing says so; wrap-padded to a pack's crop when
    /// shorter, as IPET's loader does, and cut to it when longer).
    public func features(_ samples: [Float], source: String) throws -> [Float] {
        do {
            if let spectrogram { return try spectrogram.compute(samples) }
            var clip = samples
            if let crop = windowSamples, !clip.isEmpty {
                if clip.count < crop {
                    var padded = clip
                    while padded.count < crop { padded += clip.prefix(crop - padded.count) }
                    clip = padded
                } else if clip.count > crop {
                    clip = Array(clip.prefix(crop))
                }
            }
            return try WaveformNormalizer(waveform!).process(clip, sampleRate: waveform!.samplingRate)
        } catch {
            throw AudioPipelineError(path: source, message: "\(error)")
        }
    }

    public struct Output: Sendable {
        public var logits: [Float]?
        public var embedding: [Float]?

        /// No NaN or infinity in the logits or the embedding.
        public var isFinite: Bool {
            (logits ?? []).allSatisfy(\.isFinite) && (embedding ?? []).allSatisfy(\.isFinite)
        }
    }

    /// Runs the task on a batch of feature vectors of equal length (from `features`). For wav2vec 2.0,
    /// `validSamples` marks right-padded items (masked like transformers' attention mask; prompts are always
    /// attended).
    public func run(_ batch: [[Float]], validSamples: [Int]? = nil, workspace: Workspace = Workspace()) throws -> [Output] {
        guard let first = batch.first else { return [] }
        let adaptations = pack?.adaptations
        if let ast {
            let config = spectrogram!.configuration
            let input = Tensor(shape: [batch.count, config.maxLength, config.melBins], values: batch.flatMap { $0 })
            let output = try ast.forward(input, positionEmbeddings: astPositions, adaptations: adaptations, workspace: workspace)
            guard let pack else {
                guard let logits = output.logits else { throw PackError(path: backbone.source, message: "the checkpoint has no classification head (pass a pack)") }
                return split(logits).map { Output(logits: $0, embedding: nil) }
            }
            return try apply(pack.taskHead, pooled: output.pooled)
        }
        let model = wav2vec2!
        guard batch.allSatisfy({ $0.count == first.count }) else { throw PackError(path: name, message: "batch items differ in length") }
        let needsStates = pack?.taskHead.needsHiddenStates ?? backboneHeadNeedsStates
        let output = try model.forward(Tensor(shape: [batch.count, first.count], values: batch.flatMap { $0 }), validSamples: validSamples,
                                       adaptations: adaptations, outputHiddenStates: needsStates, workspace: workspace)
        if let pack {
            switch pack.taskHead {
            case let .w2v2SequenceClassification(head): return split(head(output)).map { Output(logits: $0, embedding: nil) }
            case let .w2v2XVector(head):
                let (e, l) = try head(output, workspace: workspace)
                return zip(split(e), split(l)).map { Output(logits: $1, embedding: $0) }
            default:
                // An unbiased standard deviation needs two frames (PyTorch gives NaN for one).
                if let shortest = output.frames.min(), shortest < 2 {
                    throw PackError(path: pack.path, message: "the input gives \(shortest) frame; this pack's mean and standard-deviation "
                                    + "pooling needs at least 2 (about 0.05 s of audio)")
                }
                return try apply(pack.taskHead, pooled: Self.meanStd(output))
            }
        }
        switch backboneHead {
        case let .sequenceClassification(head)?: return split(head(output)).map { Output(logits: $0, embedding: nil) }
        case let .xvector(head)?:
            let (e, l) = try head(output, workspace: workspace)
            return zip(split(e), split(l)).map { Output(logits: $1, embedding: $0) }
        case nil: throw PackError(path: backbone.source, message: "the checkpoint has no head (pass a pack)")
        }
    }

    private var backboneHead: Wav2Vec2Head? {
        if case let .wav2vec2(_, head) = backbone.model { return head }
        return nil
    }

    private var backboneHeadNeedsStates: Bool { backboneHead?.needsHiddenStates ?? false }

    private func split(_ t: Tensor) -> [[Float]] {
        let n = t.shape[0], d = t.count / max(n, 1)
        return (0..<n).map { Array(UnsafeBufferPointer(start: t.data + $0 * d, count: d)) }
    }

    /// Applies a pack head to pooled vectors `[batch, in]`.
    private func apply(_ head: TaskHead, pooled: Tensor) throws -> [Output] {
        let batch = pooled.shape[0]
        switch head {
        case let .linear(_, norm, linear):
            let normed = Tensor(zeros: pooled.shape)
            norm(pooled.data, rows: batch, into: normed.mutableData)
            let y = Tensor(zeros: [batch, linear.outFeatures])
            linear(normed.data, rows: batch, into: y.mutableData)
            return split(y).map { Output(logits: $0, embedding: nil) }
        case let .speaker(_, embedding, classifier):
            let e = Tensor(zeros: [batch, embedding.outFeatures])
            embedding(pooled.data, rows: batch, into: e.mutableData)
            var logits: [[Float]?] = Array(repeating: nil, count: batch)
            if let classifier {
                let normed = Tensor(zeros: e.shape)
                classifier.norm(e.data, rows: batch, into: normed.mutableData)
                let y = Tensor(zeros: [batch, classifier.linear.outFeatures])
                classifier.linear(normed.data, rows: batch, into: y.mutableData)
                logits = split(y)
            }
            return zip(split(e), logits).map { Output(logits: $1, embedding: $0) }
        case .w2v2SequenceClassification, .w2v2XVector:
            throw PackError(path: pack?.path ?? name, message: "transformers heads need wav2vec 2.0 outputs")
        }
    }

    /// `concat(mean_t h, std_t h)` over each item's valid frames, unbiased std (IPET's wav2vec 2.0 pooling).
    static func meanStd(_ output: Wav2Vec2Model.Output) -> Tensor {
        let h = output.lastHiddenState
        let (batch, t, d) = (h.shape[0], h.shape[1], h.shape[2])
        let out = Tensor(zeros: [batch, 2 * d])
        for b in 0..<batch {
            meanAndStandardDeviation(h.data + b * t * d, frames: output.frames[b], channels: d, into: out.mutableData + b * 2 * d)
        }
        return out
    }
}

/// A pack that cannot be used with a backbone, naming the pack file.
public struct PackError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}

/// Whether a pack belongs to a backbone (`Formats/ipet-pack.md`, "Verification").
public enum PackVerification: Sendable, Equatable {
    case match
    /// The pack was made for the weights this backbone was converted from (e.g. F32 → F16).
    case derived(warning: String)
    case mismatch(message: String, shapesFit: Bool)

    public static func check(_ pack: AdapterPack, against backbone: Backbone) -> PackVerification {
        let want = pack.backbone
        let (d, l, h) = backbone.sizes
        let shapesFit = want.architecture == backbone.architecture && want.hiddenSize == d && want.layers == l && want.heads == h
        let have = backbone.fingerprint
        if want.fingerprint == have, shapesFit { return .match }
        if shapesFit, backbone.derivedFrom.contains(want.fingerprint) {
            return .derived(warning: "\(pack.path): made for \(want.fingerprint); this backbone (\(have)) was converted from those weights, so results may differ slightly in precision")
        }
        var what: String
        if want.architecture != backbone.architecture {
            what = "architecture differs: the pack is for \(want.architecture.rawValue), the backbone is \(backbone.architecture.rawValue)"
        } else if !shapesFit {
            what = "sizes differ: the pack needs hidden \(want.hiddenSize), \(want.layers) layers, \(want.heads) heads; the backbone has hidden \(d), \(l) layers, \(h) heads"
        } else {
            what = "values only: same architecture and sizes, different weights"
        }
        what = "pack expects backbone \(want.fingerprint) but \(backbone.source) is \(have) (\(what))"
        return .mismatch(message: what, shapesFit: shapesFit)
    }
}

extension Backbone {
    /// (hidden size, layers, attention heads).
    public var sizes: (Int, Int, Int) {
        switch model {
        case let .ast(m): return (m.config.hiddenSize, m.config.layers, m.config.heads)
        case let .wav2vec2(m, _): return (m.config.hiddenSize, m.config.layers, m.config.heads)
        }
    }
}
