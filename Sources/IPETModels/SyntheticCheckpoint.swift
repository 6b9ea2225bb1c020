import IPETFormats
import IPETTensor

/// Random-weight checkpoints of any configuration, built in memory, for benchmarks of full-size models on
/// machines that have no real checkpoint (weights drawn once from a fixed seed; numerically meaningless).
public enum SyntheticCheckpoint {
    /// transformers' defaults: `MIT/ast-finetuned-audioset-10-10-0.4593` (527 labels) and `facebook/wav2vec2-base`
    /// (with a 12-label sequence-classification head).
    public static func defaultConfig(_ architecture: Architecture) -> JSONValue {
        switch architecture {
        case .ast:
            return .object([("model_type", .string("audio-spectrogram-transformer")), ("num_labels", .int(527)),
                            ("problem_type", .string("multi_label_classification"))])
        case .wav2vec2:
            return .object([("model_type", .string("wav2vec2")), ("num_labels", .int(12))])
        }
    }

    public static func make(_ architecture: Architecture, config: JSONValue? = nil, seed: UInt64 = 1) throws -> ImportedCheckpoint {
        let config = config ?? defaultConfig(architecture)
        var shapes: [(String, [Int])] = []
        switch architecture {
        case .ast:
            let c = try ASTConfiguration(config: config, source: "synthetic")
            let d = c.hiddenSize, p = "audio_spectrogram_transformer."
            shapes += [(p + "embeddings.cls_token", [1, 1, d]), (p + "embeddings.distillation_token", [1, 1, d]),
                       (p + "embeddings.position_embeddings", [1, c.tokens(frames: c.maxLength), d]),
                       (p + "embeddings.patch_embeddings.projection.weight", [d, 1, c.patchSize, c.patchSize]),
                       (p + "embeddings.patch_embeddings.projection.bias", [d])]
            for l in 0..<c.layers {
                let q = p + "encoder.layer.\(l)."
                for n in ["attention.attention.query", "attention.attention.key", "attention.attention.value", "attention.output.dense"] {
                    shapes += [(q + n + ".weight", [d, d]), (q + n + ".bias", [d])]
                }
                shapes += [(q + "intermediate.dense.weight", [c.intermediateSize, d]), (q + "intermediate.dense.bias", [c.intermediateSize]),
                           (q + "output.dense.weight", [d, c.intermediateSize]), (q + "output.dense.bias", [d])]
                for n in ["layernorm_before", "layernorm_after"] { shapes += [(q + n + ".weight", [d]), (q + n + ".bias", [d])] }
            }
            shapes += [(p + "layernorm.weight", [d]), (p + "layernorm.bias", [d])]
            if !c.labels.isEmpty {
                shapes += [("classifier.layernorm.weight", [d]), ("classifier.layernorm.bias", [d]),
                           ("classifier.dense.weight", [c.labels.count, d]), ("classifier.dense.bias", [c.labels.count])]
            }
        case .wav2vec2:
            let c = try Wav2Vec2Configuration(config: config, source: "synthetic")
            let d = c.hiddenSize, p = "wav2vec2."
            var inChannels = 1
            for (i, out) in c.convDim.enumerated() {
                let q = p + "feature_extractor.conv_layers.\(i)."
                shapes.append((q + "conv.weight", [out, inChannels, c.convKernel[i]]))
                if c.convBias { shapes.append((q + "conv.bias", [out])) }
                if c.featureNorm == .layer || i == 0 { shapes += [(q + "layer_norm.weight", [out]), (q + "layer_norm.bias", [out])] }
                inChannels = out
            }
            shapes += [(p + "feature_projection.layer_norm.weight", [inChannels]), (p + "feature_projection.layer_norm.bias", [inChannels]),
                       (p + "feature_projection.projection.weight", [d, inChannels]), (p + "feature_projection.projection.bias", [d]),
                       (p + "encoder.pos_conv_embed.conv.weight_g", [1, 1, c.positionKernel]),
                       (p + "encoder.pos_conv_embed.conv.weight_v", [d, d / c.positionGroups, c.positionKernel]),
                       (p + "encoder.pos_conv_embed.conv.bias", [d]),
                       (p + "encoder.layer_norm.weight", [d]), (p + "encoder.layer_norm.bias", [d])]
            for l in 0..<c.layers {
                let q = p + "encoder.layers.\(l)."
                for n in ["q_proj", "k_proj", "v_proj", "out_proj"] { shapes += [(q + "attention." + n + ".weight", [d, d]), (q + "attention." + n + ".bias", [d])] }
                shapes += [(q + "feed_forward.intermediate_dense.weight", [c.intermediateSize, d]), (q + "feed_forward.intermediate_dense.bias", [c.intermediateSize]),
                           (q + "feed_forward.output_dense.weight", [d, c.intermediateSize]), (q + "feed_forward.output_dense.bias", [d])]
                for n in ["layer_norm", "final_layer_norm"] { shapes += [(q + n + ".weight", [d]), (q + n + ".bias", [d])] }
            }
            if !c.labels.isEmpty {
                shapes += [("projector.weight", [c.classifierProjectionSize, d]), ("projector.bias", [c.classifierProjectionSize]),
                           ("classifier.weight", [c.labels.count, c.classifierProjectionSize]), ("classifier.bias", [c.labels.count])]
            }
        }
        let store = WeightStore(source: "synthetic \(architecture.rawValue)")
        var state = seed
        for (name, shape) in shapes {
            let n = shape.reduce(1, *)
            let fanIn = shape.count > 1 ? shape.dropFirst().reduce(1, *) : 1
            let scale = name.hasSuffix("norm.weight") || name.hasSuffix("weight_g") ? 0 : (shape.count > 1 ? 1 / Float(fanIn).squareRoot() : 0.02)
            let base: Float = name.hasSuffix("norm.weight") || name.hasSuffix("weight_g") ? 1 : 0
            let t = Tensor(zeros: shape)
            let out = t.mutableData
            for i in 0..<n {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                out[i] = base + scale * (Float(state >> 40) / Float(1 << 24) * 2 - 1) * 1.7
            }
            store.insert(t, canonical: name, original: name)
        }
        return ImportedCheckpoint(source: store.source, architecture: architecture, config: config, preprocessorConfig: nil, weights: store)
    }
}
