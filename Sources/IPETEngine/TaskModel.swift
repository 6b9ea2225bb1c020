import Foundation
import IPETAudio
import IPETFormats
import IPETModels
import IPETTensor
import Logging

/// One task on a shared backbone: the checkpoint's own head, an IPET adapter pack (prompts, adapters, head,
/// preprocessing), or a plain embedding of the backbone's output. Building one never copies or reloads the
/// backbone's weights; a pack with overrides gets its own model object whose tensors are views of the same storage.
///
/// A task turns audio into model input (`features`) and model input into head outputs (`run`); the head code
/// itself lives in the models layer (`TaskHead`, `Wav2Vec2Head`, `BackboneEmbedding`).
public final class TaskModel: @unchecked Sendable {
    /// What reads the backbone's output.
    enum Head {
        /// The checkpoint's own classifier (AST's head, or transformers' wav2vec 2.0 heads).
        case checkpoint
        case pack(TaskHead)
        case embedding(BackboneEmbedding)
    }

    /// The pack's file name without extension, "backbone", or "embedding".
    public let name: String
    public let backbone: Backbone
    public let pack: AdapterPack?
    public let labels: [String]
    public let activation: ScoreActivation
    /// Tasks with equal keys take the same features, so they are computed once per input.
    public let featureKey: String
    /// Tasks with equal keys also share the model's front end on those features (`embed`): nothing before their
    /// first transformer layer differs. A pack overriding a front-end tensor gets a key of its own.
    public let frontEndKey: String
    /// Input samples a window holds (AST: enough for `max_length` frames; wav2vec 2.0: the pack's crop, or nil
    /// for whole clips).
    public let windowSamples: Int?
    /// The longest input one pass takes when inputs are not cut into windows (wav2vec 2.0:
    /// `Wav2Vec2Model.maximumFrames` frames); nil when the model pads or truncates to a fixed length (AST).
    public var maximumWholeSamples: Int? { wav2vec2?.config.maximumSamples }
    /// True when the task gives embeddings and no class scores.
    public var embeddingOnly: Bool {
        switch head {
        case .embedding: return true
        case let .pack(h): return h.classCount == 0
        case .checkpoint: return false
        }
    }

    let head: Head
    let ast: AudioSpectrogramTransformer?
    let wav2vec2: Wav2Vec2Model?
    let astPositions: Tensor?
    let spectrogram: SpectrogramFeatures?
    let waveform: WaveformNormalizer.Configuration?

    static let logger = Logger(label: "ipet.engine")

    /// A task with the checkpoint's own head (`pack == nil`), or a pack's, checked against the backbone: a pack made
    /// for other weights is refused unless `allowMismatch` and the shapes fit.
    public convenience init(backbone: Backbone, pack: AdapterPack? = nil, activation: ScoreActivation? = nil, allowMismatch: Bool = false) throws {
        guard let pack else {
            if case .wav2vec2(_, head: .xvector?) = backbone.model {
                throw EngineError(path: backbone.source, "this is a speaker-embedding (x-vector) checkpoint, not a classifier",
                                  remedy: .embedInstead)
            }
            guard !backbone.labels.isEmpty else {
                throw EngineError(path: backbone.source, "the checkpoint has no classification head", remedy: .givePack)
            }
            try self.init(backbone: backbone, head: .checkpoint, pack: nil, name: "backbone", labels: backbone.labels,
                          activation: activation ?? (backbone.multiLabel ? .sigmoid : .softmax))
            return
        }
        guard pack.preprocessing.samplingRate == backbone.sampleRate else {
            throw EngineError(path: pack.path, "the pack was trained on \(pack.preprocessing.samplingRate) Hz audio, "
                              + "the backbone takes \(backbone.sampleRate) Hz")
        }
        if let warning = pack.integrityWarning { Self.logger.warning("\(warning)") }
        try Self.checkOverrides(of: pack, against: backbone)
        if pack.config.adapterResidual, case let .wav2vec2(model, _) = backbone.model, model.config.stableLayerNorm {
            throw EngineError(path: pack.path, "adapter_residual reproduces the official code's post-LN wav2vec 2.0 layers; "
                              + "this backbone is pre-LN (do_stable_layer_norm), where it has no meaning")
        }
        switch PackVerification.check(pack, against: backbone) {
        case .match: break
        case let .derived(warning): Self.logger.warning("\(warning)")
        case let .mismatch(message, shapesFit):
            guard allowMismatch, shapesFit else {
                throw EngineError(path: pack.path, message, remedy: shapesFit ? .allowMismatch : nil)
            }
            Self.logger.warning("running despite the mismatch: \(message)")
        }
        try self.init(backbone: backbone, head: .pack(pack.taskHead), pack: pack,
                      name: URL(fileURLWithPath: pack.path).deletingPathExtension().lastPathComponent,
                      labels: pack.labels.isEmpty ? (0..<pack.taskHead.classCount).map { "LABEL_\($0)" } : pack.labels,
                      activation: activation ?? (pack.head.multiLabel ? .sigmoid : .softmax))
    }

    /// A task that embeds each input with the backbone alone (no pack).
    public convenience init(backbone: Backbone, embedding: BackboneEmbedding) throws {
        if let n = embedding.layer {
            let layers = backbone.sizes.1
            guard (0...layers).contains(n) else {
                throw EngineError(path: backbone.source, "hidden-state layer \(n) is out of range 0...\(layers)")
            }
        }
        try self.init(backbone: backbone, head: .embedding(embedding), pack: nil, name: "embedding", labels: [], activation: .none)
    }

    private init(backbone: Backbone, head: Head, pack: AdapterPack?, name: String, labels: [String], activation: ScoreActivation) throws {
        self.backbone = backbone
        self.head = head
        self.pack = pack
        self.name = name
        self.labels = labels
        self.activation = activation
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
                    throw EngineError(path: pack!.path, "pack uses \(bins) mel bins, the backbone \(model.config.melBins)")
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
                    throw EngineError(path: pack!.path, "override \(positionName) has shape \(table.shape), expected [1, \(n), \(model.config.hiddenSize)]")
                }
                astPositions = table.reshaped([n, model.config.hiddenSize])
            } else {
                astPositions = try astModel.positionEmbeddings(forFrames: config.maxLength)
            }
            spectrogram = try SpectrogramFeatures(config)
            waveform = nil
            featureKey = "fbank \(config.samplingRate) \(config.melBins) \(config.maxLength) \(config.mean) \(config.std) \(config.doNormalize)"
            frontEndKey = featureKey + Self.frontEndSuffix(pack, frontEndPrefixes: [NameMap.astPrefix + "embeddings."])
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
            frontEndKey = featureKey + Self.frontEndSuffix(pack, frontEndPrefixes: [
                "feature_extractor.", "feature_projection.", "encoder.pos_conv_embed.", "encoder.layer_norm.",
            ].map { NameMap.wav2vec2Prefix + $0 })
        }
    }

    /// Every `override.<name>` must replace a backbone tensor of the same shape (the AST position table may have the
    /// pack's input length instead, checked when it is used): anything else would be ignored or blamed on the backbone.
    static func checkOverrides(of pack: AdapterPack, against backbone: Backbone) throws {
        for name in pack.overrides.keys.sorted() {
            let tensor = pack.overrides[name]!
            guard let original = backbone.weights.tensors[name] else {
                throw EngineError(path: pack.path, "override.\(name) names no tensor of the backbone \(backbone.source)")
            }
            if name == NameMap.astPrefix + "embeddings.position_embeddings" { continue }
            guard tensor.shape == original.shape else {
                throw EngineError(path: pack.path, "override.\(name) has shape \(tensor.shape); the backbone's \(name) is \(original.shape)")
            }
        }
    }

    /// Empty unless `pack` overrides a tensor under one of `frontEndPrefixes`, whose front end is then its own.
    static func frontEndSuffix(_ pack: AdapterPack?, frontEndPrefixes: [String]) -> String {
        guard let pack, pack.overrides.keys.contains(where: { name in frontEndPrefixes.contains { name.hasPrefix($0) } }) else { return "" }
        return " front end of \(pack.path)"
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
            if let spectrogram { return try StageTimer.measure("ast.fbank") { try spectrogram.compute(samples) } }
            var clip = samples
            if let crop = windowSamples {
                clip = clip.count > crop ? Array(clip.prefix(crop)) : WrapPadding.pad(clip, to: crop)
            }
            return try WaveformNormalizer(waveform!).process(clip, sampleRate: waveform!.samplingRate)
        } catch {
            throw EngineError(path: source, "\(error)")
        }
    }

    /// The model's front end on a batch of features (everything before the first transformer layer): shared by
    /// every task with this task's `frontEndKey`.
    public struct Embedded: @unchecked Sendable {
        let tokens: Tensor?
        let frames: Wav2Vec2Model.Embedded?
        public var count: Int { tokens?.shape[0] ?? frames!.hidden.shape[0] }
    }

    /// The front end of a batch of feature vectors of equal length (from `features`). For wav2vec 2.0,
    /// `validSamples` marks right-padded items (masked like transformers' attention mask; prompts are always
    /// attended).
    public func embed(_ batch: [[Float]], validSamples: [Int]? = nil, workspace: Workspace = Workspace()) throws -> Embedded {
        guard let first = batch.first else { throw EngineError(path: name, "an empty batch") }
        if let ast {
            let config = spectrogram!.configuration
            let input = Tensor(shape: [batch.count, config.maxLength, config.melBins], values: batch.flatMap { $0 })
            return Embedded(tokens: try ast.embed(input, positionEmbeddings: astPositions), frames: nil)
        }
        guard batch.allSatisfy({ $0.count == first.count }) else { throw EngineError(path: name, "batch items differ in length") }
        let input = Tensor(shape: [batch.count, first.count], values: batch.flatMap { $0 })
        return Embedded(tokens: nil, frames: try wav2vec2!.embed(input, validSamples: validSamples, workspace: workspace))
    }

    /// Runs the task on a batch of feature vectors of equal length (from `features`): `embed`, then the layers and
    /// the head.
    public func run(_ batch: [[Float]], validSamples: [Int]? = nil, workspace: Workspace = Workspace()) throws -> [HeadOutput] {
        guard !batch.isEmpty else { return [] }
        return try run(try embed(batch, validSamples: validSamples, workspace: workspace), reuseInput: true, workspace: workspace)
    }

    /// Runs the task's layers (with its pack's prompts and adapters) and head on a front end from `embed` (of this
    /// task or one with the same `frontEndKey`). With `reuseInput` the front end's memory is used in place, so it
    /// must not be used again.
    public func run(_ embedded: Embedded, reuseInput: Bool = false, workspace: Workspace = Workspace()) throws -> [HeadOutput] {
        let adaptations = pack?.adaptations
        if let ast {
            guard let tokens = embedded.tokens else { throw EngineError(path: name, "a wav2vec 2.0 front end given to an AST task") }
            let output = try ast.encode(tokens, adaptations: adaptations, outputHiddenStates: embedding?.layer != nil,
                                        workspace: workspace, reuseInput: reuseInput)
            switch head {
            case let .pack(taskHead): return try taskHead(output)
            case let .embedding(kind): return kind(output)
            case .checkpoint:
                guard let logits = output.logits else { throw EngineError(path: backbone.source, "the checkpoint has no classification head", remedy: .givePack) }
                return HeadOutput.rows(logits: logits)
            }
        }
        let model = wav2vec2!
        guard let frames = embedded.frames else { throw EngineError(path: name, "an AST front end given to a wav2vec 2.0 task") }
        let checkpointHead: Wav2Vec2Head?
        if case let .wav2vec2(_, h) = backbone.model { checkpointHead = h } else { checkpointHead = nil }
        let needsStates: Bool
        switch head {
        case let .pack(taskHead): needsStates = taskHead.needsHiddenStates
        case let .embedding(kind): needsStates = kind.layer != nil || (checkpointHead?.needsHiddenStates ?? false)
        case .checkpoint: needsStates = checkpointHead?.needsHiddenStates ?? false
        }
        let output = try model.encode(frames, adaptations: adaptations, outputHiddenStates: needsStates, workspace: workspace,
                                      reuseInput: reuseInput)
        switch head {
        case let .pack(taskHead): return try taskHead(output, workspace: workspace)
        case let .embedding(kind): return try kind(output, head: checkpointHead, workspace: workspace)
        case .checkpoint:
            guard let checkpointHead else { throw EngineError(path: backbone.source, "the checkpoint has no head", remedy: .givePack) }
            return try checkpointHead(output, workspace: workspace)
        }
    }

    private var embedding: BackboneEmbedding? {
        if case let .embedding(kind) = head { return kind }
        return nil
    }
}
