import Foundation
import IPETFormats
import IPETTensor

/// A checkpoint read into memory: its configuration and its tensors under canonical names.
public struct ImportedCheckpoint: @unchecked Sendable {
    public let source: String
    public let architecture: Architecture
    /// The model's `config.json` (from the folder, or embedded in a converted file's metadata).
    public let config: JSONValue
    /// `preprocessor_config.json`, when present.
    public let preprocessorConfig: JSONValue?
    public let weights: WeightStore
    /// Fingerprints of the weights this file was converted from (metadata `ipet.derived_from`), e.g. the F32
    /// original of an F16 copy: packs made for those verify here with a precision warning.
    public var derivedFrom: [String] = []
}

/// Reads checkpoints from the files people have and resolves every name spelling through `NameMap`.
/// F32 tensors stay zero-copy views of the mapped files where the format allows.
public enum CheckpointImporter {
    /// Weight files looked for in a model folder, in order of preference.
    public static let folderWeightNames = [
        "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "tf_model.h5", "tf_model.h5.index.json", "model.h5",
    ]

    /// Imports a Hugging Face model folder (`config.json` + weights in any supported format), or a single weight
    /// file: one that carries its config in metadata (`ipet convert` output), one with `config.json` beside it, or
    /// an original AST checkpoint (timm names, e.g. `audioset_10_10_0.4593.pth`) whose config is inferred from
    /// its shapes. `configOverride` replaces whatever config would be used.
    public static func load(_ path: String, configOverride: JSONValue? = nil) throws -> ImportedCheckpoint {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ModelError(path, "no such file or directory")
        }
        let url = URL(fileURLWithPath: path)
        let folder = isDirectory.boolValue ? url : url.deletingLastPathComponent()
        var tensors: [SourceTensor] = []
        var metadata: [(key: String, value: String)] = []
        var fileBytes = 0
        func size(_ file: String) -> Int { (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0 }
        if isDirectory.boolValue {
            for file in try weightFiles(in: url) {
                let read = try CheckpointFileFormat.read(file)
                tensors += read.tensors
                fileBytes += size(file)
                if metadata.isEmpty { metadata = read.metadata }
            }
        } else {
            (tensors, metadata) = try CheckpointFileFormat.read(path)
            fileBytes = size(path)
        }
        // Each tensor is checked against its own storage, but many tensors can share one storage (aliases, hard
        // links) or a compressed dataset can expand a lot: bound what the whole checkpoint may decode to, from its size
        // on disk (half precision doubles, tied weights repeat; 8× plus 256 MB is far above any real checkpoint).
        let declared = tensors.reduce(0.0) { $0 + Double($1.shape.reduce(1, *)) * 4 }
        let budget = 8 * Double(fileBytes) + 256e6
        guard declared <= budget else {
            throw ModelError(path, String(format: "its tensors would decode to %.1f GB from %.1f MB on disk "
                + "(shared storages, links or compression); refusing", declared / 1e9, Double(fileBytes) / 1e6))
        }
        func metadataValue(_ key: String) -> String? { metadata.first(where: { $0.key == key })?.value }
        let configPath = folder.appendingPathComponent("config.json").path
        let preprocessorPath = folder.appendingPathComponent("preprocessor_config.json").path
        let timm = TimmAST.isTimm(tensors.map(\.name))
        var config: JSONValue
        if let configOverride {
            config = configOverride
        } else if let text = metadataValue("config") {
            do { config = try JSONParser.parse(text) } catch {
                throw ModelError(path, "metadata \"config\" is not valid JSON: \(error)")
            }
        } else if FileManager.default.fileExists(atPath: configPath) {
            config = try JSONFile.read(configPath)
        } else if timm {
            config = try TimmAST.inferConfig(tensors, source: path)
        } else {
            throw ModelError(path, "no config: pass the model folder (config.json beside the weights)", remedy: .giveConfig)
        }
        var preprocessor: JSONValue?
        if let text = metadataValue("preprocessor_config") {
            do { preprocessor = try JSONParser.parse(text) } catch {
                throw ModelError(path, "metadata \"preprocessor_config\" is not valid JSON: \(error)")
            }
        } else if FileManager.default.fileExists(atPath: preprocessorPath) {
            preprocessor = try JSONFile.read(preprocessorPath)
        }
        guard let architecture = Architecture.detect(config: config) else {
            let type = config["model_type"]?.string ?? "none"
            throw ModelError(path, "unsupported model_type \"\(type)\" (supported: AST, wav2vec 2.0)")
        }
        let store = WeightStore(source: path)
        if timm && architecture == .ast {
            try TimmAST.insert(tensors, into: store, source: path)
        } else {
            for tensor in tensors {
                guard let canonical = NameMap.canonical(tensor.name, architecture: architecture) else { continue }
                if let previous = store.originalNames[canonical] {
                    throw ModelError(path, "tensors \"\(previous)\" and \"\(tensor.name)\" are the same weight under two names")
                }
                store.insert(try tensor.load(), canonical: canonical, original: tensor.name)
            }
        }
        var checkpoint = ImportedCheckpoint(source: path, architecture: architecture, config: config,
                                            preprocessorConfig: preprocessor, weights: store)
        if let text = metadataValue("ipet.derived_from") {
            let parsed = try? JSONParser.parse(text)
            checkpoint.derivedFrom = parsed?.array?.compactMap(\.string) ?? parsed?.string.map { [$0] } ?? [text]
        }
        return checkpoint
    }

    /// The weight files of a model folder: the first of `folderWeightNames` present (an index names its shards).
    public static func weightFiles(in folder: URL) throws -> [String] {
        for name in folderWeightNames {
            let path = folder.appendingPathComponent(name).path
            guard FileManager.default.fileExists(atPath: path) else { continue }
            if name == "tf_model.h5.index.json" { return [path] }  // TFCheckpoint reads the shards itself
            guard name.hasSuffix(".index.json") else { return [path] }
            let map = try JSONFile.read(path)
            guard let entries = map["weight_map"]?.object else { throw ModelError(path, "missing \"weight_map\" object") }
            var shards: [String] = []
            for (_, value) in entries {
                guard let shard = value.string, !shard.contains("/"), !shard.hasPrefix(".") else {
                    throw ModelError(path, "weight_map entries must name shard files in the same folder")
                }
                let full = folder.appendingPathComponent(shard).path
                if !shards.contains(full) { shards.append(full) }
            }
            return shards
        }
        throw ModelError(folder.path, "no weights in the folder (looked for \(folderWeightNames.joined(separator: ", ")))")
    }
}

/// The original AST code's checkpoints (Gong et al., `audioset_10_10_0.4593.pth`; also the backbone part of the
/// official IPET AST code): a timm DeiT under `v.` with a fused QKV projection and an `mlp_head`.
public enum TimmAST {
    public static func isTimm(_ names: [String]) -> Bool {
        names.contains { $0.hasPrefix("v.pos_embed") || $0.hasPrefix("module.v.pos_embed") }
    }

    static func strip(_ name: String) -> String { name.hasPrefix("module.") ? String(name.dropFirst(7)) : name }

    /// Renames `v.…` to transformers' names, splitting `attn.qkv` into query/key/value. Tensors that are not part of
    /// the model (timm's unused `head`/`head_dist`, IPET prompts and adapters) are skipped.
    public static func insert(_ tensors: [SourceTensor], into store: WeightStore, source: String) throws {
        let p = NameMap.astPrefix
        let fixed: [String: String] = [
            "v.cls_token": p + "embeddings.cls_token", "v.dist_token": p + "embeddings.distillation_token",
            "v.pos_embed": p + "embeddings.position_embeddings",
            "v.patch_embed.proj.weight": p + "embeddings.patch_embeddings.projection.weight",
            "v.patch_embed.proj.bias": p + "embeddings.patch_embeddings.projection.bias",
            "v.norm.weight": p + "layernorm.weight", "v.norm.bias": p + "layernorm.bias",
            "mlp_head.0.weight": "classifier.layernorm.weight", "mlp_head.0.bias": "classifier.layernorm.bias",
            "mlp_head.1.weight": "classifier.dense.weight", "mlp_head.1.bias": "classifier.dense.bias",
        ]
        let block: [String: String] = [
            "norm1": "layernorm_before", "norm2": "layernorm_after", "attn.proj": "attention.output.dense",
            "mlp.fc1": "intermediate.dense", "mlp.fc2": "output.dense",
        ]
        for tensor in tensors {
            let name = strip(tensor.name)
            if let target = fixed[name] {
                store.insert(try tensor.load(), canonical: target, original: tensor.name)
                continue
            }
            let parts = name.split(separator: ".").map(String.init)
            guard parts.count >= 5, parts[0] == "v", parts[1] == "blocks", let l = Int(parts[2]) else { continue }
            let module = parts[3..<(parts.count - 1)].joined(separator: "."), leaf = parts.last!
            let layer = p + "encoder.layer.\(l)."
            if module == "attn.qkv" {
                // [3·D, D] (or [3·D]) = query, key, value stacked along the output axis.
                let t = try tensor.load()
                guard t.shape[0] % 3 == 0 else { throw ModelError(source, "\(tensor.name) has shape \(t.shape); expected 3·D rows") }
                let d = t.shape[0] / 3
                for (i, part) in ["query", "key", "value"].enumerated() {
                    store.insert(t.rows(i * d, count: d).copy(), canonical: layer + "attention.attention.\(part).\(leaf)", original: tensor.name)
                }
            } else if let target = block[module] {
                store.insert(try tensor.load(), canonical: layer + target + "." + leaf, original: tensor.name)
            }
        }
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
