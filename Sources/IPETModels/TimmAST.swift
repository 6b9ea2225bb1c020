import Foundation
import IPETFormats
import IPETTensor

/// The original AST code's checkpoints (Gong et al., `audioset_10_10_0.4593.pth`; also the backbone part of the
/// official IPET AST code): a timm DeiT under `v.` with a fused QKV projection and an `mlp_head`.
public enum TimmAST {
    public static func isTimm(_ names: [String]) -> Bool {
        names.contains { $0.hasPrefix("v.pos_embed") || $0.hasPrefix("module.v.pos_embed") }
    }

    static func strip(_ name: String) -> String { name.hasPrefix("module.") ? String(name.dropFirst(7)) : name }

    /// Inserts the tensors under transformers' names (`NameMap.timmAST`), splitting each fused `attn.qkv` into
    /// query, key and value. Tensors that are not part of the model (timm's unused `head`/`head_dist`, IPET prompts
    /// and adapters) are skipped and returned.
    @discardableResult
    public static func insert(_ tensors: [SourceTensor], into store: WeightStore, source: String) throws -> [DroppedTensor] {
        var dropped: [DroppedTensor] = []
        for tensor in tensors {
            switch NameMap.timmAST(strip(tensor.name)) {
            case nil:
                dropped.append(DroppedTensor(name: tensor.name, dtype: tensor.dtype, reason: .notPartOfTheModel))
            case let .tensor(canonical):
                store.insert(try tensor.load(), canonical: canonical, original: tensor.name)
            case let .fusedQKV(parts):
                // [3·D, D] (or [3·D]) = query, key, value stacked along the output axis.
                let t = try tensor.load()
                guard t.shape[0] % 3 == 0 else { throw ModelError(source, "\(tensor.name) has shape \(t.shape); expected 3·D rows") }
                let d = t.shape[0] / 3
                for (i, canonical) in parts.enumerated() {
                    store.insert(t.rows(i * d, count: d).copy(), canonical: canonical, original: tensor.name)
                }
            }
        }
        return dropped
    }

    /// A transformers-style config from the tensor shapes: hidden size, layers, heads (head size 64, as DeiT),
    /// MLP size, patch size, labels; 128 mel bins and equal frequency/time strides chosen so the patch grid
    /// matches the position table (AudioSet's 12 × 101 grid is the 1024-frame configuration).
    static func inferConfig(_ tensors: [SourceTensor], source: String) throws -> JSONValue {
        let shapes = Dictionary(tensors.map { (strip($0.name), $0.shape) }, uniquingKeysWith: { a, _ in a })
        guard let cls = shapes["v.cls_token"], let pos = shapes["v.pos_embed"], let proj = shapes["v.patch_embed.proj.weight"],
            let fc1 = shapes["v.blocks.0.mlp.fc1.weight"]
        else { throw ModelError(source, "an original AST checkpoint needs v.cls_token, v.pos_embed, v.patch_embed.proj.weight and v.blocks.0") }
        let d = cls.last!, tokens = pos[1], patch = proj.last!
        let layers = Set(shapes.keys.compactMap { k -> Int? in
            let parts = k.split(separator: ".")
            return parts.count > 2 && parts[1] == "blocks" ? Int(parts[2]) : nil
        }).count
        let mel = 128
        var chosen: (stride: Int, frames: Int)?
        for stride in [10, 16, 12, 14, 8, 6, 4] {
            let f = (mel - patch) / stride + 1
            guard (tokens - 2) % f == 0 else { continue }
            let t = (tokens - 2) / f
            chosen = (stride, t == 101 && stride == 10 ? 1024 : (t - 1) * stride + patch)
            break
        }
        guard let chosen else { throw ModelError(source, "cannot infer the patch grid of \(tokens - 2) patches", remedy: .giveConfig) }
        var members: [(key: String, value: JSONValue)] = [
            ("model_type", .string("audio-spectrogram-transformer")), ("hidden_size", .int(d)), ("num_hidden_layers", .int(layers)),
            ("num_attention_heads", .int(max(1, d / 64))), ("intermediate_size", .int(fc1[0])), ("patch_size", .int(patch)),
            ("frequency_stride", .int(chosen.stride)), ("time_stride", .int(chosen.stride)), ("max_length", .int(chosen.frames)),
            ("num_mel_bins", .int(mel)), ("layer_norm_eps", .double(1e-12)),
        ]
        if let head = shapes["mlp_head.1.weight"] {
            members.append(("num_labels", .int(head[0])))
            if head[0] == 527 { members.append(("problem_type", .string("multi_label_classification"))) }
        }
        return .object(members)
    }
}
