import Foundation
import IPETAudio
import IPETFormats
import IPETModels
import IPETTensor
import Logging

/// A loaded, immutable backbone: the model, its label names, and the preprocessing its checkpoint was made
/// with. Shared by every request and every pack; nothing here changes after `load`.
public final class Backbone: @unchecked Sendable {
    public enum Model: Sendable {
        case ast(AudioSpectrogramTransformer)
        case wav2vec2(Wav2Vec2Model, head: Wav2Vec2Head?)
    }

    public let source: String
    public let architecture: Architecture
    public let model: Model
    public let config: JSONValue
    /// Sample rate the model expects; audio is resampled to it.
    public let sampleRate: Int
    /// Spectrogram settings for AST (from `preprocessor_config.json`, else transformers' defaults).
    public let spectrogram: SpectrogramFeatures.Configuration?
    /// Waveform normalisation for wav2vec 2.0 (from `preprocessor_config.json`, else transformers' defaults).
    public let waveform: WaveformNormalizer.Configuration?
    /// Label names of the checkpoint's own head, if it has one.
    public let labels: [String]
    /// True when the head is multi-label (`problem_type` multi_label_classification, or AudioSet's 527
    /// classes): scores then use a sigmoid per class instead of a softmax.
    public let multiLabel: Bool
    /// The weights under canonical names (shared, never modified), for fingerprints and pack overrides.
    public let weights: WeightStore
    /// Fingerprints this backbone was converted from (see `ImportedCheckpoint.derivedFrom`).
    public let derivedFrom: [String]
    private let fingerprintCache = FingerprintCache()

    /// `.int8` when the large `Linear` layers run in int8 (an int8 file, or quantised at load), else `.f32`.
    public var compute: ComputePrecision { weights.isInt8 ? .int8 : .f32 }

    /// The content fingerprint (`Formats/ipet-pack.md`), computed on first use.
    public var fingerprint: String {
        fingerprintCache.value { BackboneFingerprint.compute(weights, architecture: architecture) }
    }

    static let logger = Logger(label: "ipet.engine")

    /// Loads a model folder or converted file. With `compute: .int8` the attention, feed-forward and feature
    /// projections of a float32 checkpoint are quantised now (`Formats/int8.md`); a file `ipet convert --dtype int8`
    /// wrote runs them in int8 whatever `compute` says (its float32 weights are gone).
    public static func load(_ path: String, compute: ComputePrecision = .f32) throws -> Backbone {
        let started = DispatchTime.now().uptimeNanoseconds
        let checkpoint = try CheckpointImporter.load(path)
        checkpoint.weights.quantizesAtLoad = compute == .int8
        let backbone = try Backbone(checkpoint)
        let ms = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6
        logger.debug("loaded backbone", metadata: [
            "path": "\(path)", "architecture": "\(checkpoint.architecture.rawValue)",
            "tensors": "\(checkpoint.weights.names.count)", "compute": "\(backbone.compute.rawValue)",
            "ms": "\(String(format: "%.1f", ms))",
        ])
        return backbone
    }

    public init(_ checkpoint: ImportedCheckpoint) throws {
        source = checkpoint.source
        architecture = checkpoint.architecture
        weights = checkpoint.weights
        derivedFrom = checkpoint.derivedFrom
        config = checkpoint.config
        let pre = checkpoint.preprocessorConfig
        switch checkpoint.architecture {
        case .ast:
            let astConfig = try ASTConfiguration(config: checkpoint.config, source: checkpoint.source)
            let ast = try AudioSpectrogramTransformer(config: astConfig, weights: checkpoint.weights)
            model = .ast(ast)
            var features: SpectrogramFeatures.Configuration
            do { features = try SpectrogramFeatures.Configuration(preprocessorConfig: pre ?? .object([])) } catch {
                throw EngineError(path: checkpoint.source, "\(error)")
            }
            // The model's config is authoritative for shapes the weights were built for.
            features.melBins = astConfig.melBins
            features.maxLength = astConfig.maxLength
            spectrogram = features
            waveform = nil
            sampleRate = features.samplingRate
            labels = ast.head == nil ? [] : astConfig.labels
        case .wav2vec2:
            let w2vConfig = try Wav2Vec2Configuration(config: checkpoint.config, source: checkpoint.source)
            let w2v = try Wav2Vec2Model(config: w2vConfig, weights: checkpoint.weights)
            let head = try Wav2Vec2Head.load(config: w2vConfig, weights: checkpoint.weights)
            model = .wav2vec2(w2v, head: head)
            let normalizer: WaveformNormalizer.Configuration
            do { normalizer = try WaveformNormalizer.Configuration(preprocessorConfig: pre ?? .object([])) } catch {
                throw EngineError(path: checkpoint.source, "\(error)")
            }
            waveform = normalizer
            spectrogram = nil
            sampleRate = normalizer.samplingRate
            if case let .sequenceClassification(h)? = head {
                labels = w2vConfig.labels.count == h.classifier.outFeatures
                    ? w2vConfig.labels : (0..<h.classifier.outFeatures).map { "LABEL_\($0)" }
            } else {
                labels = []
            }
        }
        if let unused = checkpoint.weights.unusedLayerTensor {
            throw ModelError(checkpoint.source, "the weights hold \"\(checkpoint.weights.originalNames[unused] ?? unused)\", which the "
                             + "configuration does not use (does config.json describe fewer layers than the checkpoint has?)")
        }
        let problem = checkpoint.config["problem_type"]?.string
        multiLabel = problem == "multi_label_classification" || (problem == nil && labels.count == 527)
    }
}

/// Computes a value once, thread-safely.
final class FingerprintCache: @unchecked Sendable {
    private let lock = NSLock()
    private var cached: String?

    func value(_ make: () -> String) -> String {
        lock.lock()
        defer { lock.unlock() }
        if let cached { return cached }
        let v = make()
        cached = v
        return v
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
