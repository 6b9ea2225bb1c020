import Foundation
import IPETFormats
import IPETTensor

/// An IPET adapter pack (`Formats/ipet-pack.md`): one task's prompts, adapters, head and preprocessing for one
/// frozen backbone. A small immutable value, passed into forward calls; the backbone is never touched.
public struct AdapterPack: @unchecked Sendable {
    public static let formatName = "ipet-pack"
    public static let supportedMajorVersion = 1
    /// Largest `prompt_tokens` read (IPET uses 4–128): attention memory grows with the square of the tokens.
    public static let maximumPromptTokens = 1024
    /// Largest `adapter_bottleneck` read (IPET uses 32–128).
    public static let maximumBottleneck = 8192
    /// Largest AST `max_length` read, in frames (40.96 s; AudioSet and FSD50K use 1024).
    public static let maximumFrames = 4096
    /// Largest wav2vec 2.0 `crop_samples` read (60 s at 16 kHz; IPET crops 3–10.24 s).
    public static let maximumCropSamples = 960_000
    /// The version this code writes: 1.1 added the content digest (`ipet.content_sha256`), required from 1.1 on.
    public static let currentVersion = "1.1"

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
        /// `adapter_scale` as the pack writes it (0.37, not its float32 rounding), for display.
        public var adapterScaleAsWritten: Double
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
        /// For `speaker`: how the backbone output is pooled (`ast-pooled` or `mean-std`); nil = the backbone's own.
        public var pooling: TaskHead.Pooling?
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
    /// The content digest the pack records and that was checked against its content; nil for a 1.0 pack, whose
    /// integrity cannot be checked (readers warn).
    public let contentDigest: String?
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

    /// What to tell a user about a pack whose integrity cannot be checked; nil when it was checked.
    public var integrityWarning: String? {
        contentDigest == nil
            ? "\(path): pack format 1.0 records no content digest, so damage to it cannot be detected (re-export it to get format \(Self.currentVersion))"
            : nil
    }

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
        try self.init(file: SafeTensorsFile(path: path))
    }

    /// Validates a pack already parsed as safetensors (from a file or bytes in memory, e.g. a fuzzer's input);
    /// errors name `file.path`.
    public init(file: SafeTensorsFile) throws {
        let path = file.path
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
        // Integrity before anything else is believed: a damaged pack must not run with other numbers.
        switch ContentDigest.check(file) {
        case .verified: contentDigest = file.metadataValue(ContentDigest.metadataKey)
        case let .mismatch(recorded, computed): throw fail(ContentDigest.mismatchMessage(recorded: recorded, computed: computed))
        case .absent:
            guard version == "1.0" else { throw fail("pack format \(version) requires \(ContentDigest.metadataKey); the file lacks it") }
            contentDigest = nil
        }

        let b = try json("ipet.backbone")!
        guard let archText = b["architecture"]?.string, let arch = Architecture(rawValue: archText) else {
            throw fail("ipet.backbone.architecture must be \"audio-spectrogram-transformer\" or \"wav2vec2\"")
        }
        guard let hidden = b["hidden_size"]?.int, let layers = b["num_hidden_layers"]?.int, let heads = b["num_attention_heads"]?.int,
            hidden > 0, layers > 0, heads > 0
        else { throw fail("ipet.backbone needs positive hidden_size, num_hidden_layers and num_attention_heads") }
        // The per-layer loop below runs before any tensor is missed when a pack has neither prompts nor adapters, so
        // the counts are bounded here, as a backbone's config.json is (`ModelLimits`).
        guard hidden <= ModelLimits.hiddenSize, layers <= ModelLimits.layers, heads <= hidden else {
            throw fail("ipet.backbone sizes out of range: hidden_size \(hidden) (at most \(ModelLimits.hiddenSize)), "
                       + "num_hidden_layers \(layers) (at most \(ModelLimits.layers)), num_attention_heads \(heads) (at most hidden_size)")
        }
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
            // Used as float32: 1e300 is infinite and 1e-50 is zero there, so the range is checked in float32 too.
            guard let d = v.double, d.isFinite, Float(d).isFinite, !positive || (d > 0 && Float(d) > 0) else {
                throw fail("\(section).\(key) must be a finite\(positive ? " positive" : "") number in float32 range, got \(v.compactText)")
            }
            return d
        }
        func flag(_ o: JSONValue, _ section: String, _ key: String) throws -> Bool? {
            guard let v = o[key], v != .null else { return nil }
            guard let b = v.bool else { throw fail("\(section).\(key) must be true or false, got \(v.compactText)") }
            return b
        }

        let c = try json("ipet.config")!
        // Caps far above what IPET uses (k 4–128, b 32–128) but low enough that attention over prompts and the
        // adapters' matrices stay within memory (`Formats/ipet-pack.md`, "Verification").
        let k = try integer(c, "ipet.config", "prompt_tokens", 0...Self.maximumPromptTokens) ?? 0
        let bottleneck = try integer(c, "ipet.config", "adapter_bottleneck", 0...Self.maximumBottleneck) ?? 0
        if let p = c["prompt_placement"]?.string, p != "prepend-every-layer" { throw fail("prompt_placement \"\(p)\" is not supported") }
        if let a = c["adapter_activation"]?.string, a != "relu" { throw fail("adapter_activation \"\(a)\" is not supported") }
        if let p = c["adapter_placement"]?.string, p != "parallel-ffn" { throw fail("adapter_placement \"\(p)\" is not supported") }
        let scale = try number(c, "ipet.config", "adapter_scale") ?? 0.1
        config = Configuration(promptTokens: k, adapterBottleneck: bottleneck, adapterScale: Float(scale), adapterScaleAsWritten: scale,
                               adapterResidual: try flag(c, "ipet.config", "adapter_residual") ?? false)
        if config.adapterResidual {
            // The official IPET code's quirk exists only in its post-LN wav2vec 2.0 layers, and only with an adapter.
            guard arch == .wav2vec2 else { throw fail("adapter_residual is the official wav2vec 2.0 code's quirk; an AST pack cannot set it") }
            guard bottleneck > 0 else { throw fail("adapter_residual needs adapters (adapter_bottleneck > 0)") }
        }

        let h = try json("ipet.head")!
        guard let typeText = h["type"]?.string, let type = HeadType(rawValue: typeText) else {
            throw fail("unknown head type \(h["type"]?.string.map { "\"\($0)\"" } ?? "(missing)")")
        }
        var labels: [String] = []
        if let v = h["labels"], v != .null {
            guard let list = v.array, list.allSatisfy({ $0.string != nil }) else { throw fail("ipet.head.labels must be a list of strings") }
            labels = list.compactMap(\.string)
            if Set(labels).count != labels.count { throw fail("ipet.head.labels has duplicate names") }
            if labels.contains(where: { $0.isEmpty }) { throw fail("ipet.head.labels has an empty name") }
        }
        var pooling: TaskHead.Pooling?
        if let v = h["pooling"], v != .null {
            guard let text = v.string, let p = TaskHead.Pooling(rawValue: text) else {
                throw fail("ipet.head.pooling must be \"ast-pooled\" or \"mean-std\", got \(v.compactText)")
            }
            pooling = p
        }
        head = HeadSpec(type: type, labels: labels, multiLabel: try flag(h, "ipet.head", "multi_label") ?? false,
                        layerNormEps: Float(try number(h, "ipet.head", "layer_norm_eps", positive: true) ?? 1e-5),
                        pooling: pooling, json: h)

        let p = try json("ipet.preprocessing")!
        let s = "ipet.preprocessing"
        preprocessing = Preprocessing(
            samplingRate: try integer(p, s, "sampling_rate", 1000...384_000) ?? 16000,
            maxLength: try integer(p, s, "max_length", 16...Self.maximumFrames), melBins: try integer(p, s, "num_mel_bins", 1...1024),
            mean: try number(p, s, "mean"), std: try number(p, s, "std", positive: true),
            doNormalize: try flag(p, s, "do_normalize") ?? (arch == .ast),
            // Crops up to 5 min (the wav2vec 2.0 one-pass limit at 16 kHz); IPET's protocol uses a few seconds.
            cropSamples: try integer(p, s, "crop_samples", 400...Self.maximumCropSamples), segments: try integer(p, s, "segments", 1...1000))
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
        if let v = h["labels"], v != .null, taskHead.classCount > 0, labels.count != taskHead.classCount {
            throw fail("\(labels.count) labels for a head with \(taskHead.classCount) outputs")
        }
        if let v = h["embedding_dim"], v != .null {
            guard let dim = v.int, dim == taskHead.embeddingDimension else {
                throw fail("ipet.head.embedding_dim is \(v.compactText); the head's embedding has \(taskHead.embeddingDimension.map(String.init) ?? "no") dimensions")
            }
        }
        if let extra = pool.remaining.keys.sorted().first {
            throw fail("unexpected tensor \"\(extra)\" (not implied by ipet.config / ipet.head)")
        }
    }
}
