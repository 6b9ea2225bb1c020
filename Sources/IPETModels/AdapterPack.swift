import Foundation
import IPETFormats
import IPETTensor

/// An IPET adapter pack (`Formats/ipet-pack.md`): one task's prompts, adapters, head and preprocessing for one
/// frozen backbone. A small immutable value, passed into forward calls; the backbone is never touched.
public struct AdapterPack: @unchecked Sendable {
    public static let formatName = "ipet-pack"
    public static let supportedMajorVersion = 1

    public struct BackboneRequirement: Sendable, Equatable {
        public var architecture: Architecture
        public var hiddenSize: Int
        public var layers: Int
        public var heads: Int
        public var fingerprint: String
        public var name: String?
    }

    public struct Configuration: Sendable, Equatable {
        public var promptTokens: Int
        public var adapterBottleneck: Int
        public var adapterScale: Float
        public var adapterResidual: Bool
    }

    public enum HeadType: String, Sendable {
        case astPooled = "ast-pooled"
        case meanStd = "mean-std"
        case speaker
        case w2v2SequenceClassification = "w2v2-sequence-classification"
        case w2v2XVector = "w2v2-xvector"
        case astClassification = "ast-classification"
    }

    public struct HeadSpec: Sendable {
        public var type: HeadType
        public var labels: [String]
        public var multiLabel: Bool
        public var layerNormEps: Float
        /// For `speaker`: how the backbone output is pooled (`ast-pooled` or `mean-std`).
        public var pooling: HeadType?
        public var json: JSONValue
    }

    public struct Preprocessing: Sendable, Equatable {
        public var samplingRate: Int
        // AST
        public var maxLength: Int?
        public var melBins: Int?
        public var mean: Double?
        public var std: Double?
        public var doNormalize: Bool
        // wav2vec 2.0
        public var cropSamples: Int?
        public var segments: Int?
    }

    public let path: String
    public let version: String
    public let backbone: BackboneRequirement
    public let config: Configuration
    public let head: HeadSpec
    public let preprocessing: Preprocessing
    public let provenance: JSONValue?
    /// Per-layer prompts and adapters, ready for the model's forward.
    public let adaptations: [LayerAdaptation]
    /// The task head, built from the pack's `head.*` tensors.
    public let taskHead: TaskHead
    /// Replacement backbone tensors by canonical name (`override.<name>`).
    public let overrides: [String: Tensor]
    /// Every tensor in the file, for counting and inspection.
    public let tensorShapes: [(name: String, dtype: String, shape: [Int])]

    public var parameterCount: Int { tensorShapes.reduce(0) { $0 + $1.shape.reduce(1, *) } }
    public var labels: [String] { head.labels }

    /// Parameters by group: prompts, adapters, head, overrides.
    public var parameterBreakdown: [(group: String, count: Int)] {
        var groups: [String: Int] = [:]
        for t in tensorShapes {
            let group = t.name.hasPrefix("prompts.") ? "prompts" : t.name.hasPrefix("adapters.") ? "adapters"
                : t.name.hasPrefix("head.") ? "head" : "overrides"
            groups[group, default: 0] += t.shape.reduce(1, *)
        }
        return ["prompts", "adapters", "head", "overrides"].compactMap { g in groups[g].map { (g, $0) } }
    }

    /// Reads and validates a pack: metadata, version, and every tensor the configuration implies (no extras).
    public init(path: String) throws {
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(path: path) } catch { throw error }
        func fail(_ message: String) -> ModelError { ModelError(path, message) }
        func json(_ key: String, required: Bool = true) throws -> JSONValue? {
            guard let text = file.metadataValue(key) else {
                if required { throw fail("not an IPET pack: metadata \"\(key)\" is missing") }
                return nil
            }
            do { return try JSONParser.parse(text) } catch { throw fail("metadata \"\(key)\" is not valid JSON: \(error)") }
        }
        guard file.metadataValue("ipet.format") == Self.formatName else {
            throw fail("not an IPET pack (metadata \"ipet.format\" is \(file.metadataValue("ipet.format").map { "\"\($0)\"" } ?? "missing"))")
        }
        let version = file.metadataValue("ipet.version") ?? ""
        guard let major = Int(version.split(separator: ".").first ?? ""), version.split(separator: ".").count == 2 else {
            throw fail("invalid ipet.version \"\(version)\"")
        }
        guard major == Self.supportedMajorVersion else {
            throw fail("pack format version \(version) is not supported (this ipet reads version \(Self.supportedMajorVersion).x)")
        }
        self.path = path
        self.version = version

        let b = try json("ipet.backbone")!
        guard let archText = b["architecture"]?.string, let arch = Architecture(rawValue: archText) else {
            throw fail("ipet.backbone.architecture must be \"audio-spectrogram-transformer\" or \"wav2vec2\"")
        }
        guard let hidden = b["hidden_size"]?.int, let layers = b["num_hidden_layers"]?.int, let heads = b["num_attention_heads"]?.int,
            hidden > 0, layers > 0, heads > 0
        else { throw fail("ipet.backbone needs positive hidden_size, num_hidden_layers and num_attention_heads") }
        guard let fingerprint = b["fingerprint"]?.string, fingerprint.hasPrefix(BackboneFingerprint.prefix) else {
            throw fail("ipet.backbone.fingerprint must be \"sha256:<hex>\"")
        }
        backbone = BackboneRequirement(architecture: arch, hiddenSize: hidden, layers: layers, heads: heads,
                                       fingerprint: fingerprint, name: b["name"]?.string)

        // Typed, range-checked values: a key that is present with the wrong type or out of range is an error naming
        // it, never silently replaced by a default.
        func integer(_ o: JSONValue, _ section: String, _ key: String, _ range: ClosedRange<Int>) throws -> Int? {
            guard let v = o[key], v != .null else { return nil }
            guard let i = v.int, range.contains(i) else {
                throw fail("\(section).\(key) must be an integer from \(range.lowerBound) to \(range.upperBound), got \(v.compactText)")
            }
            return i
        }
        func number(_ o: JSONValue, _ section: String, _ key: String, positive: Bool = false) throws -> Double? {
            guard let v = o[key], v != .null else { return nil }
            guard let d = v.double, d.isFinite, !positive || d > 0 else {
                throw fail("\(section).\(key) must be a finite\(positive ? " positive" : "") number, got \(v.compactText)")
            }
            return d
        }
        func flag(_ o: JSONValue, _ section: String, _ key: String) throws -> Bool? {
            guard let v = o[key], v != .null else { return nil }
            guard let b = v.bool else { throw fail("\(section).\(key) must be true or false, got \(v.compactText)") }
            return b
        }

        let c = try json("ipet.config")!
        let k = try integer(c, "ipet.config", "prompt_tokens", 0...100_000) ?? 0
        let bottleneck = try integer(c, "ipet.config", "adapter_bottleneck", 0...1_000_000) ?? 0
        if let p = c["prompt_placement"]?.string, p != "prepend-every-layer" { throw fail("prompt_placement \"\(p)\" is not supported") }
        if let a = c["adapter_activation"]?.string, a != "relu" { throw fail("adapter_activation \"\(a)\" is not supported") }
        if let p = c["adapter_placement"]?.string, p != "parallel-ffn" { throw fail("adapter_placement \"\(p)\" is not supported") }
        config = Configuration(promptTokens: k, adapterBottleneck: bottleneck,
                               adapterScale: Float(try number(c, "ipet.config", "adapter_scale") ?? 0.1),
                               adapterResidual: try flag(c, "ipet.config", "adapter_residual") ?? false)

        let h = try json("ipet.head")!
        guard let typeText = h["type"]?.string, let type = HeadType(rawValue: typeText) else {
            throw fail("unknown head type \(h["type"]?.string.map { "\"\($0)\"" } ?? "(missing)")")
        }
        var labels: [String] = []
        if let v = h["labels"], v != .null {
            guard let list = v.array, list.allSatisfy({ $0.string != nil }) else { throw fail("ipet.head.labels must be a list of strings") }
            labels = list.compactMap(\.string)
            if Set(labels).count != labels.count { throw fail("ipet.head.labels has duplicate names") }
        }
        head = HeadSpec(type: type, labels: labels, multiLabel: try flag(h, "ipet.head", "multi_label") ?? false,
                        layerNormEps: Float(try number(h, "ipet.head", "layer_norm_eps", positive: true) ?? 1e-5),
                        pooling: h["pooling"]?.string.flatMap(HeadType.init(rawValue:)), json: h)

        let p = try json("ipet.preprocessing")!
        let s = "ipet.preprocessing"
        preprocessing = Preprocessing(
            samplingRate: try integer(p, s, "sampling_rate", 1000...384_000) ?? 16000,
            maxLength: try integer(p, s, "max_length", 16...65_536), melBins: try integer(p, s, "num_mel_bins", 1...1024),
            mean: try number(p, s, "mean"), std: try number(p, s, "std", positive: true),
            doNormalize: try flag(p, s, "do_normalize") ?? (arch == .ast),
            // Crops up to 5 min (the wav2vec 2.0 one-pass limit at 16 kHz); IPET's protocol uses a few seconds.
            cropSamples: try integer(p, s, "crop_samples", 400...4_800_000), segments: try integer(p, s, "segments", 1...1000))
        provenance = try json("ipet.provenance", required: false)

        // Tensors: load all, then consume what the configuration implies; anything left over is an error.
        let pool = PackTensors(source: path)
        var shapes: [(String, String, [Int])] = []
        for info in file.tensors {
            guard info.dtype == .f32 || info.dtype == .f16 || info.dtype == .bf16 else {
                throw ModelError(path, "tensor \"\(info.name)\" has dtype \(info.dtype.rawValue); packs store F32, F16 or BF16")
            }
            let tensor = try Tensor.load(info, from: file)
            guard UnsafeBufferPointer(start: tensor.data, count: tensor.count).allSatisfy(\.isFinite) else {
                throw ModelError(path, "tensor \"\(info.name)\" holds NaN or infinite values")
            }
            pool.remaining[info.name] = tensor
            shapes.append((info.name, info.dtype.rawValue, info.shape))
        }
        tensorShapes = shapes
        let take = pool.take
        var adaptations: [LayerAdaptation] = []
        for l in 0..<layers {
            var a = LayerAdaptation()
            if k > 0 { a.prompts = try take("prompts.\(l)", [k, hidden]) }
            if bottleneck > 0 {
                a.adapter = BottleneckAdapter(
                    down: Linear(weight: try take("adapters.\(l).down.weight", [bottleneck, hidden]),
                                 bias: try take("adapters.\(l).down.bias", [bottleneck])),
                    up: Linear(weight: try take("adapters.\(l).up.weight", [hidden, bottleneck]),
                               bias: try take("adapters.\(l).up.bias", [hidden])),
                    scale: config.adapterScale, addResidual: config.adapterResidual)
            }
            adaptations.append(a)
        }
        self.adaptations = adaptations
        var overrides: [String: Tensor] = [:]
        for name in pool.remaining.keys where name.hasPrefix("override.") {
            overrides[String(name.dropFirst("override.".count))] = pool.remaining.removeValue(forKey: name)
        }
        self.overrides = overrides
        taskHead = try TaskHead(spec: head, hidden: hidden, layers: layers, architecture: arch, tensors: pool)
        if let extra = pool.remaining.keys.sorted().first {
            throw fail("unexpected tensor \"\(extra)\" (not implied by ipet.config / ipet.head)")
        }
    }
}

/// The task head of a pack, applied to what the backbone produces.
public enum TaskHead: @unchecked Sendable {
    /// LayerNorm + Linear on a pooled vector (`ast-pooled`, `mean-std`, `ast-classification`).
    case linear(pooling: Pooling, norm: LayerNorm, linear: Linear)
    /// Linear to the speaker embedding, optionally LayerNorm + Linear to classes.
    case speaker(pooling: Pooling, embedding: Linear, classifier: (norm: LayerNorm, linear: Linear)?)
    case w2v2SequenceClassification(Wav2Vec2SequenceClassificationHead)
    case w2v2XVector(Wav2Vec2XVectorHead)

    public enum Pooling: Sendable {
        /// AST `(CLS + DIST)/2` after the final LayerNorm.
        case astPooled
        /// wav2vec 2.0 `concat(mean, unbiased std)` over the frames of the last layer output.
        case meanStd
    }

    init(spec: AdapterPack.HeadSpec, hidden: Int, layers: Int, architecture: Architecture, tensors: PackTensors) throws {
        let source = tensors.source
        let take = tensors.take
        func fail(_ m: String) -> ModelError { ModelError(source, m) }
        let defaultPooling: Pooling = architecture == .ast ? .astPooled : .meanStd
        func linear(_ prefix: String, in n: Int) throws -> Linear {
            guard let w = tensors.remaining["\(prefix).weight"] else { throw fail("missing tensor \"\(prefix).weight\"") }
            guard w.rank == 2, w.shape[1] == n else { throw fail("tensor \"\(prefix).weight\" has shape \(w.shape), expected [*, \(n)]") }
            return Linear(weight: try take("\(prefix).weight", w.shape), bias: try take("\(prefix).bias", [w.shape[0]]))
        }
        func norm(_ prefix: String, _ n: Int) throws -> LayerNorm {
            LayerNorm(weight: try take("\(prefix).weight", [n]), bias: try take("\(prefix).bias", [n]), eps: spec.layerNormEps)
        }
        switch spec.type {
        case .astPooled, .meanStd, .astClassification:
            let pooling: Pooling = spec.type == .meanStd ? .meanStd : .astPooled
            guard (pooling == .astPooled) == (architecture == .ast) else { throw fail("head \(spec.type.rawValue) does not fit a \(architecture.rawValue) backbone") }
            let n = pooling == .meanStd ? 2 * hidden : hidden
            let names = spec.type == .astClassification ? ("head.layernorm", "head.dense") : ("head.norm", "head.linear")
            let l = try linear(names.1, in: n)
            self = .linear(pooling: pooling, norm: try norm(names.0, n), linear: l)
            if !spec.labels.isEmpty, spec.labels.count != l.outFeatures {
                throw fail("\(spec.labels.count) labels for a head with \(l.outFeatures) outputs")
            }
        case .speaker:
            let pooling: Pooling = spec.pooling == .meanStd ? .meanStd : spec.pooling == .astPooled ? .astPooled : defaultPooling
            let n = pooling == .meanStd ? 2 * hidden : hidden
            let embedding = try linear("head.embedding", in: n)
            var classifier: (LayerNorm, Linear)?
            if tensors.remaining["head.linear.weight"] != nil {
                let l = try linear("head.linear", in: embedding.outFeatures)
                classifier = (try norm("head.norm", embedding.outFeatures), l)
            }
            self = .speaker(pooling: pooling, embedding: embedding, classifier: classifier)
        case .w2v2SequenceClassification, .w2v2XVector:
            guard architecture == .wav2vec2 else { throw fail("head \(spec.type.rawValue) needs a wav2vec2 backbone") }
            let store = WeightStore(source: source)
            for (name, t) in tensors.remaining where name.hasPrefix("head.") {
                store.insert(t, canonical: String(name.dropFirst("head.".count)), original: name)
            }
            var config = JSONValue.object([
                ("hidden_size", .int(hidden)), ("num_hidden_layers", .int(layers)),
                ("use_weighted_layer_sum", .bool(store.contains("layer_weights"))),
            ])
            if spec.type == .w2v2XVector, case var .object(members) = config {
                for key in ["tdnn_dim", "tdnn_kernel", "tdnn_dilation", "xvector_output_dim"] {
                    if let v = spec.json[key] { members.append((key, v)) }
                }
                if spec.json["tdnn_dim"] == nil {
                    var dims: [JSONValue] = []
                    var i = 0
                    while let w = store.tensors["tdnn.\(i).kernel.weight"] { dims.append(.int(w.shape[0])); i += 1 }
                    members.append(("tdnn_dim", .array(dims)))
                }
                if spec.json["xvector_output_dim"] == nil, let w = store.tensors["feature_extractor.weight"] {
                    members.append(("xvector_output_dim", .int(w.shape[0])))
                }
                config = .object(members)
            }
            if spec.type == .w2v2SequenceClassification, let w = store.tensors["projector.weight"], case var .object(members) = config {
                members.append(("classifier_proj_size", .int(w.shape[0])))
                config = .object(members)
            }
            let w2vConfig = try Wav2Vec2Configuration(config: config, source: source)
            if spec.type == .w2v2XVector {
                self = .w2v2XVector(try Wav2Vec2XVectorHead(config: w2vConfig, weights: store))
            } else {
                self = .w2v2SequenceClassification(try Wav2Vec2SequenceClassificationHead(config: w2vConfig, weights: store))
            }
            for name in store.tensors.keys { tensors.remaining["head." + name] = nil }
        }
    }

    public var needsHiddenStates: Bool {
        switch self {
        case let .w2v2SequenceClassification(h): return h.needsHiddenStates
        case let .w2v2XVector(h): return h.needsHiddenStates
        default: return false
        }
    }

    /// Number of outputs of the classifier (0 for an embedding-only speaker head).
    public var classCount: Int {
        switch self {
        case let .linear(_, _, l): return l.outFeatures
        case let .speaker(_, _, c): return c?.linear.outFeatures ?? 0
        case let .w2v2SequenceClassification(h): return h.classifier.outFeatures
        case .w2v2XVector: return 0
        }
    }
}

/// The tensors of a pack file being consumed by what its configuration implies.
final class PackTensors {
    let source: String
    var remaining: [String: Tensor] = [:]

    init(source: String) { self.source = source }

    /// Removes and returns `name`, checking its shape.
    func take(_ name: String, _ shape: [Int]) throws -> Tensor {
        guard let t = remaining.removeValue(forKey: name) else {
            throw ModelError(source, "missing tensor \"\(name)\" (expected shape \(shape))")
        }
        guard t.shape == shape else { throw ModelError(source, "tensor \"\(name)\" has shape \(t.shape), expected \(shape)") }
        return t
    }
}
