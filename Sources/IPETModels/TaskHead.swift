import IPETFormats
import IPETTensor

/// The head of an IPET pack: how the frozen backbone's output becomes a task's logits or speaker embedding.
///
/// IPET's own heads read one pooled vector per input (`docs/ipet-method.md` §4.4): AST pools the mean of the
/// final-LayerNorm CLS and distillation outputs, wav2vec 2.0 concatenates the mean and the unbiased standard
/// deviation over the last layer's frames. Then
///
///     linear  : logits    = Linear(LN(pooled))                       (ast-pooled, mean-std, ast-classification)
///     speaker : embedding = Linear(pooled);  logits = Linear(LN(embedding))   (classifier optional)
///
/// Packs may instead carry one of transformers' wav2vec 2.0 heads, which pool the frames themselves.
public struct TaskHead: @unchecked Sendable {
    /// How the backbone output is reduced to one vector per input.
    public enum Pooling: String, Sendable, CaseIterable {
        /// AST: `(CLS + DIST) / 2` after the final LayerNorm (`hidden` values).
        case astPooled = "ast-pooled"
        /// wav2vec 2.0: `concat(mean_t h, std_t h)` over the valid frames of the last layer output, unbiased std
        /// (`2 · hidden` values).
        case meanStd = "mean-std"

        /// The pooling IPET uses for `architecture`; a head's pooling must be this one (the other does not exist
        /// on that backbone's output).
        public static func native(to architecture: Architecture) -> Pooling { architecture == .ast ? .astPooled : .meanStd }

        /// Width of the pooled vector for a backbone of `hidden` channels.
        public func width(hidden: Int) -> Int { self == .meanStd ? 2 * hidden : hidden }
    }

    enum Layers: @unchecked Sendable {
        case linear(norm: LayerNorm, linear: Linear)
        case speaker(embedding: Linear, classifier: (norm: LayerNorm, linear: Linear)?)
        case sequenceClassification(Wav2Vec2SequenceClassificationHead)
        case xvector(Wav2Vec2XVectorHead)
    }

    /// The pack file, for messages.
    public let source: String
    /// How backbone output is pooled before the head; nil for transformers' wav2vec 2.0 heads, which pool the
    /// frames themselves.
    public let pooling: Pooling?
    let layers: Layers

    /// Builds the head a pack's `ipet.head` describes from its `head.*` tensors, consuming them from `tensors`.
    init(spec: AdapterPack.HeadSpec, hidden: Int, layers layerCount: Int, architecture: Architecture, tensors: PackTensors) throws {
        source = tensors.source
        let source = self.source
        let take = tensors.take
        func fail(_ m: String) -> ModelError { ModelError(source, m) }
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
            guard pooling == .native(to: architecture) else {
                throw fail("head \(spec.type.rawValue) does not fit a \(architecture.rawValue) backbone")
            }
            let n = pooling.width(hidden: hidden)
            let names = spec.type == .astClassification ? ("head.layernorm", "head.dense") : ("head.norm", "head.linear")
            let l = try linear(names.1, in: n)
            self.pooling = pooling
            self.layers = .linear(norm: try norm(names.0, n), linear: l)
            if !spec.labels.isEmpty, spec.labels.count != l.outFeatures {
                throw fail("\(spec.labels.count) labels for a head with \(l.outFeatures) outputs")
            }
        case .speaker:
            // The speaker head pools like IPET's classifiers; a pack may say so, but cannot ask for the other
            // backbone's pooling.
            let pooling = spec.pooling ?? .native(to: architecture)
            guard pooling == .native(to: architecture) else {
                throw fail("speaker head pooling \(pooling.rawValue) does not fit a \(architecture.rawValue) backbone")
            }
            let embedding = try linear("head.embedding", in: pooling.width(hidden: hidden))
            var classifier: (LayerNorm, Linear)?
            if tensors.remaining["head.linear.weight"] != nil {
                let l = try linear("head.linear", in: embedding.outFeatures)
                classifier = (try norm("head.norm", embedding.outFeatures), l)
            }
            self.pooling = pooling
            self.layers = .speaker(embedding: embedding, classifier: classifier)
        case .w2v2SequenceClassification, .w2v2XVector:
            guard architecture == .wav2vec2 else { throw fail("head \(spec.type.rawValue) needs a wav2vec2 backbone") }
            let store = WeightStore(source: source)
            for (name, t) in tensors.remaining where name.hasPrefix("head.") {
                store.insert(t, canonical: String(name.dropFirst("head.".count)), original: name)
            }
            // The heads read neither attention heads nor positional-conv groups; left at their defaults (12, 16),
            // they would refuse every hidden size those do not divide (a 32-wide backbone).
            var members: [(key: String, value: JSONValue)] = [
                ("hidden_size", .int(hidden)), ("num_hidden_layers", .int(layerCount)),
                ("num_attention_heads", .int(1)), ("num_conv_pos_embedding_groups", .int(1)),
                ("use_weighted_layer_sum", .bool(store.contains("layer_weights"))),
            ]
            if spec.type == .w2v2XVector {
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
            }
            if spec.type == .w2v2SequenceClassification, let w = store.tensors["projector.weight"] {
                members.append(("classifier_proj_size", .int(w.shape[0])))
            }
            let w2vConfig = try Wav2Vec2Configuration(config: .object(members), source: source)
            self.pooling = nil
            if spec.type == .w2v2XVector {
                self.layers = .xvector(try Wav2Vec2XVectorHead(config: w2vConfig, weights: store))
            } else {
                self.layers = .sequenceClassification(try Wav2Vec2SequenceClassificationHead(config: w2vConfig, weights: store))
            }
            for name in store.tensors.keys { tensors.remaining["head." + name] = nil }
        }
    }

    /// Whether the head reads every layer's output (a weighted layer sum), so the forward must keep them.
    public var needsHiddenStates: Bool {
        switch layers {
        case let .sequenceClassification(h): return h.needsHiddenStates
        case let .xvector(h): return h.needsHiddenStates
        default: return false
        }
    }

    /// Whether the head gives an embedding per input (speaker and x-vector heads).
    public var givesEmbeddings: Bool {
        switch layers {
        case .speaker, .xvector: return true
        case .linear, .sequenceClassification: return false
        }
    }

    /// Size of the embedding a speaker or x-vector head gives; nil for classifiers.
    public var embeddingDimension: Int? {
        switch layers {
        case let .speaker(embedding, _): return embedding.outFeatures
        case let .xvector(h): return h.embeddingDimension
        case .linear, .sequenceClassification: return nil
        }
    }

    /// Number of outputs of the classifier (0 for an embedding-only speaker head or an x-vector head).
    public var classCount: Int {
        switch layers {
        case let .linear(_, l): return l.outFeatures
        case let .speaker(_, c): return c?.linear.outFeatures ?? 0
        case let .sequenceClassification(h): return h.classifier.outFeatures
        case .xvector: return 0
        }
    }

    /// The head on an AST forward's output.
    public func callAsFunction(_ output: AudioSpectrogramTransformer.Output) throws(ModelError) -> [HeadOutput] {
        guard pooling == .astPooled else { throw ModelError(source, "this head does not read AST output") }
        return try self(pooled: output.pooled)
    }

    /// The head on a wav2vec 2.0 forward's output.
    public func callAsFunction(_ output: Wav2Vec2Model.Output, workspace: Workspace = Workspace()) throws(ModelError) -> [HeadOutput] {
        switch layers {
        case let .sequenceClassification(head): return HeadOutput.rows(logits: head(output))
        case let .xvector(head):
            let (embeddings, logits) = try head(output, workspace: workspace)
            return HeadOutput.rows(logits: logits, embeddings: embeddings)
        case .linear, .speaker:
            guard pooling == .meanStd else { throw ModelError(source, "this head does not read wav2vec 2.0 output") }
            // An unbiased standard deviation needs two frames (PyTorch gives NaN for one).
            if let shortest = output.frames.min(), shortest < 2 {
                throw ModelError(source, "the input gives \(shortest) frame; this pack's mean and standard-deviation "
                                 + "pooling needs at least 2 (about 0.05 s of audio)")
            }
            return try self(pooled: Self.meanStd(output))
        }
    }

    /// The head on pooled vectors `[batch, width]` (see `Pooling.width`).
    public func callAsFunction(pooled: Tensor) throws(ModelError) -> [HeadOutput] {
        let batch = pooled.shape[0]
        switch layers {
        case let .linear(norm, linear):
            let normed = Tensor(zeros: pooled.shape)
            norm(pooled.data, rows: batch, into: normed.mutableData)
            let y = Tensor(zeros: [batch, linear.outFeatures])
            linear(normed.data, rows: batch, into: y.mutableData)
            return HeadOutput.rows(logits: y)
        case let .speaker(embedding, classifier):
            let e = Tensor(zeros: [batch, embedding.outFeatures])
            embedding(pooled.data, rows: batch, into: e.mutableData)
            guard let classifier else { return HeadOutput.rows(embeddings: e) }
            let normed = Tensor(zeros: e.shape)
            classifier.norm(e.data, rows: batch, into: normed.mutableData)
            let y = Tensor(zeros: [batch, classifier.linear.outFeatures])
            classifier.linear(normed.data, rows: batch, into: y.mutableData)
            return HeadOutput.rows(logits: y, embeddings: e)
        case .sequenceClassification, .xvector:
            throw ModelError(source, "transformers' wav2vec 2.0 heads pool the frames themselves; they take no pooled vector")
        }
    }

    /// `concat(mean_t h, std_t h)` over each item's valid frames of the last layer output, unbiased std.
    public static func meanStd(_ output: Wav2Vec2Model.Output) -> Tensor { meanStd(output.lastHiddenState, frames: output.frames) }

    /// `concat(mean_t h, std_t h)` over the first `frames[b]` frames of each item of `h` `[batch, frames, hidden]`.
    static func meanStd(_ h: Tensor, frames: [Int]) -> Tensor {
        let (batch, t, d) = (h.shape[0], h.shape[1], h.shape[2])
        let out = Tensor(zeros: [batch, 2 * d])
        for b in 0..<batch {
            meanAndStandardDeviation(h.data + b * t * d, frames: frames[b], channels: d, into: out.mutableData + b * 2 * d)
        }
        return out
    }
}
