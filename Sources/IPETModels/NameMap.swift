/// Every tensor-name spelling we accept, mapped to one canonical spelling: the Hugging Face transformers 4.x
/// hub layout (`docs/model-numerics.md` §A.3, §B.8) with the task-model prefix (`audio_spectrogram_transformer.`,
/// `wav2vec2.`) always present. Model code only ever sees canonical names; aliases (transformers 4.x and 5.x,
/// weight-norm spellings, the original AST code's timm names) live here and nowhere else.
public enum NameMap {
    public static let astPrefix = "audio_spectrogram_transformer."
    public static let wav2vec2Prefix = "wav2vec2."

    /// Canonical name for `name` in a checkpoint of `architecture`, or nil for tensors we deliberately drop.
    public static func canonical(_ name: String, architecture: Architecture) -> String? {
        var n = name
        if n.hasPrefix("module.") { n.removeFirst("module.".count) }  // DataParallel / DDP wrappers
        switch architecture {
        case .ast: return canonicalAST(n)
        case .wav2vec2: return canonicalWav2Vec2(n)
        }
    }

    /// The architecture a checkpoint's tensor names spell, in any accepted spelling (transformers 4.x or 5.x, with
    /// or without the task-model prefix or a `module.` wrapper), or nil: AST when a name maps to AST's patch
    /// projection, wav2vec 2.0 when one maps to its first feature-extractor convolution. (The original AST code's timm
    /// names are recognised by `TimmAST.isTimm`.) For single weight files that come without a config.
    public static func architecture(ofTensorNames names: [String]) -> Architecture? {
        // Every spelling keeps the marker's last two components: only names ending so are mapped (a cheap filter
        // for checkpoints of many tensors).
        let markers: [(Architecture, String, String)] = [
            (.ast, astPrefix + "embeddings.patch_embeddings.projection.weight", "projection.weight"),
            (.wav2vec2, wav2vec2Prefix + "feature_extractor.conv_layers.0.conv.weight", "conv.weight"),
        ]
        for (architecture, marker, suffix) in markers
        where names.contains(where: { $0.hasSuffix(suffix) && canonical($0, architecture: architecture) == marker }) {
            return architecture
        }
        return nil
    }

    /// AST: transformers 5.x (`layers.N.attention.q_proj`, `mlp.fc1`, ...) → 4.x; bare `ASTModel` names get
    /// the `audio_spectrogram_transformer.` prefix.
    static func canonicalAST(_ name: String) -> String? {
        var n = name
        let isHead = n.hasPrefix("classifier.")
        if !isHead && !n.hasPrefix(astPrefix) { n = astPrefix + n }
        guard !isHead else { return n }
        var parts = n.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        // parts[0] is the prefix; 5.x puts blocks at `<prefix>.layers.N`, 4.x at `<prefix>.encoder.layer.N`.
        if parts.count > 2, parts[1] == "layers" {
            parts.replaceSubrange(1...1, with: ["encoder", "layer"])
        }
        n = parts.joined(separator: ".")
        let renames: [(String, String)] = [
            (".attention.q_proj.", ".attention.attention.query."),
            (".attention.k_proj.", ".attention.attention.key."),
            (".attention.v_proj.", ".attention.attention.value."),
            (".attention.o_proj.", ".attention.output.dense."),
            (".mlp.fc1.", ".intermediate.dense."),
            (".mlp.fc2.", ".output.dense."),
        ]
        for (from, to) in renames where n.contains(from) {
            n = n.replacing(from, with: to)
        }
        return n
    }

    /// wav2vec 2.0: weight-norm parametrisation names → `weight_g`/`weight_v`; bare `Wav2Vec2Model` names get the
    /// `wav2vec2.` prefix; pretraining-only tensors (quantizer, project_q/project_hid) are kept under their names.
    static func canonicalWav2Vec2(_ name: String) -> String? {
        var n = name
        n = n.replacing(".parametrizations.weight.original0", with: ".weight_g")
        n = n.replacing(".parametrizations.weight.original1", with: ".weight_v")
        let backboneRoots = ["feature_extractor.conv_layers.", "feature_projection.", "encoder.", "masked_spec_embed", "adapter."]
        if backboneRoots.contains(where: { n.hasPrefix($0) }) { n = wav2vec2Prefix + n }
        return n
    }

    /// Where a tensor of the original AST code (timm's DeiT under `v.`, head `mlp_head`) goes.
    public enum TimmTarget: Equatable, Sendable {
        case tensor(String)
        /// `attn.qkv`: query, key and value stacked along the output axis, to these three names.
        case fusedQKV([String])
    }

    /// The canonical name(s) of a timm AST tensor (without any `module.` prefix), or nil for tensors that are not
    /// part of the model (timm's unused `head`/`head_dist`, IPET's prompts and adapters).
    public static func timmAST(_ name: String) -> TimmTarget? {
        let p = astPrefix
        let fixed: [String: String] = [
            "v.cls_token": p + "embeddings.cls_token", "v.dist_token": p + "embeddings.distillation_token",
            "v.pos_embed": p + "embeddings.position_embeddings",
            "v.patch_embed.proj.weight": p + "embeddings.patch_embeddings.projection.weight",
            "v.patch_embed.proj.bias": p + "embeddings.patch_embeddings.projection.bias",
            "v.norm.weight": p + "layernorm.weight", "v.norm.bias": p + "layernorm.bias",
            "mlp_head.0.weight": "classifier.layernorm.weight", "mlp_head.0.bias": "classifier.layernorm.bias",
            "mlp_head.1.weight": "classifier.dense.weight", "mlp_head.1.bias": "classifier.dense.bias",
        ]
        if let target = fixed[name] { return .tensor(target) }
        let block: [String: String] = [
            "norm1": "layernorm_before", "norm2": "layernorm_after", "attn.proj": "attention.output.dense",
            "mlp.fc1": "intermediate.dense", "mlp.fc2": "output.dense",
        ]
        let parts = name.split(separator: ".").map(String.init)
        guard parts.count >= 5, parts[0] == "v", parts[1] == "blocks", let l = Int(parts[2]) else { return nil }
        let module = parts[3..<(parts.count - 1)].joined(separator: "."), leaf = parts.last!
        let layer = p + "encoder.layer.\(l)."
        if module == "attn.qkv" { return .fusedQKV(["query", "key", "value"].map { layer + "attention.attention.\($0).\(leaf)" }) }
        return block[module].map { .tensor(layer + $0 + "." + leaf) }
    }
}
