import Foundation
import IPETFormats
import IPETModels
import IPETTensor

/// Writes an adapter pack (`Formats/ipet-pack.md`, format 1.1 with its content digest) with the metadata, in the
/// order, that `tools/ipet_reference.py`'s `export_pack` writes: `format`, `ipet.format`, `ipet.version`,
/// `ipet.backbone`, `ipet.config`, `ipet.head`, `ipet.preprocessing`, `ipet.provenance`, then the digest. The file
/// is written beside `path` and loaded back as any pack is (every implied tensor, metadata ranges, the backbone's
/// fingerprint); only a pack that passes replaces `path`.
public struct AdapterPackWriter {
    public let backbone: Backbone
    /// `ipet.backbone.name` (informative).
    public var backboneName: String
    public var promptTokens: Int
    public var bottleneck: Int
    /// As it should read in the metadata (0.1, not float32's 0.10000000149…).
    public var adapterScale: Double
    public var adapterResidual: Bool
    /// The `ipet.head` object's members.
    public var head: [(key: String, value: JSONValue)]
    /// The `ipet.preprocessing` object's members.
    public var preprocessing: [(key: String, value: JSONValue)]
    public var provenance: JSONValue?
    /// F32, F16 or BF16.
    public var dtype: DType

    public init(backbone: Backbone, backboneName: String, promptTokens: Int, bottleneck: Int, adapterScale: Double, adapterResidual: Bool,
                head: [(key: String, value: JSONValue)], preprocessing: [(key: String, value: JSONValue)], provenance: JSONValue?,
                dtype: DType = .f32) {
        self.backbone = backbone
        self.backboneName = backboneName
        self.promptTokens = promptTokens
        self.bottleneck = bottleneck
        self.adapterScale = adapterScale
        self.adapterResidual = adapterResidual
        self.head = head
        self.preprocessing = preprocessing
        self.provenance = provenance
        self.dtype = dtype
    }

    /// The head object IPET's classifier heads write: `type`, for `speaker` its `pooling` and `embedding_dim`, `labels`,
    /// `multi_label`, `layer_norm_eps` (`HeadConfig.to_json` of the reference).
    public static func head(_ type: AdapterPack.HeadType, labels: [String], pooling: TaskHead.Pooling, embeddingDimension: Int? = nil,
                            layerNormEps: Double = 1e-5) -> [(key: String, value: JSONValue)] {
        var members: [(key: String, value: JSONValue)] = [("type", .string(type.rawValue))]
        if type == .speaker {
            members += [("pooling", .string(pooling.rawValue)), ("embedding_dim", embeddingDimension.map { .int($0) } ?? .null)]
        }
        return members + [("labels", .array(labels.map(JSONValue.string))), ("multi_label", .bool(false)),
                          ("layer_norm_eps", .double(layerNormEps))]
    }

    /// The `__metadata__` entries, in the reference's order (the digest is added by the safetensors writer).
    public var metadata: [(key: String, value: String)] {
        let (d, layers, heads) = backbone.sizes
        var out: [(key: String, value: String)] = [
            ("format", "pt"), ("ipet.format", AdapterPack.formatName), ("ipet.version", AdapterPack.currentVersion),
            ("ipet.backbone", JSONValue.object([
                ("architecture", .string(backbone.architecture.rawValue)), ("hidden_size", .int(d)), ("num_hidden_layers", .int(layers)),
                ("num_attention_heads", .int(heads)), ("fingerprint", .string(backbone.fingerprint)), ("name", .string(backboneName)),
            ]).compactText),
            ("ipet.config", JSONValue.object([
                ("prompt_tokens", .int(promptTokens)), ("prompt_placement", .string("prepend-every-layer")),
                ("adapter_bottleneck", .int(bottleneck)), ("adapter_activation", .string("relu")), ("adapter_scale", .double(adapterScale)),
                ("adapter_placement", .string("parallel-ffn")), ("adapter_residual", .bool(adapterResidual)),
            ]).compactText),
            ("ipet.head", JSONValue.object(head).compactText),
            ("ipet.preprocessing", JSONValue.object(preprocessing).compactText),
        ]
        if let provenance { out.append(("ipet.provenance", provenance.compactText)) }
        return out
    }

    /// Writes `tensors` (pack names) as the pack at `path` and returns it as loaded; on any failure `path` is untouched.
    @discardableResult
    public func write(_ tensors: [(name: String, tensor: Tensor)], to path: String) throws -> AdapterPack {
        var writer = SafeTensorsWriter(metadata: metadata, recordsContentDigest: true)
        for (name, t) in tensors { writer.add(.init(name: name, shape: t.shape, floats: t.array, as: dtype)) }
        let staged = AtomicFile.temporaryPath(beside: path, tag: "check")
        do {
            try writer.write(to: staged)
            let pack = try AdapterPack(path: staged)
            if case let .mismatch(message, _) = PackVerification.check(pack, against: backbone) { throw EngineError(path: staged, message) }
            guard rename(staged, path) == 0 else { throw EngineError(path: path, "cannot write: \(String(cString: strerror(errno)))") }
            return try AdapterPack(path: path)
        } catch {
            unlink(staged)
            throw error
        }
    }
}
