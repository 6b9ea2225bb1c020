import IPETFormats
import IPETTensor

/// The Audio Spectrogram Transformer (Gong et al. 2021) as transformers' `ASTModel` / `ASTForAudioClassification`
/// compute it (`docs/model-numerics.md` §A.2), with optional IPET prompts and adapters per layer.
///
///     x      : log-mel features [T frames, F bins], T = max_length
///     tokens = [cls, dist, Conv2d_{P×P, stride (s_f, s_t)}(xᵀ) flattened frequency-major] + pos
///     h_l    = h + Attn(LN_before(h));  h_{l+1} = h_l + MLP(LN_after(h_l)) (+ 0.1·Adapter(h_l))
///     out    = LN(h_L);  pooled = (out[0] + out[1]) / 2;  logits = Linear(LN(pooled))
public final class AudioSpectrogramTransformer: @unchecked Sendable {
    public let config: ASTConfiguration
    let clsToken: Tensor  // [D]
    let distillationToken: Tensor  // [D]
    let positionEmbeddings: Tensor  // [tokens(maxLength), D]
    let patchWeight: Tensor  // [D, P·P], index u·P + v for frequency offset u, time offset v
    let patchBias: Tensor  // [D]
    let blocks: [Block]
    let finalNorm: LayerNorm
    /// `ASTMLPHead`: LayerNorm then Linear, or nil for a bare backbone.
    public let head: (norm: LayerNorm, dense: Linear)?

    struct Block: Sendable {
        let normBefore: LayerNorm
        let attention: SelfAttention
        let normAfter: LayerNorm
        let mlp: FeedForward
    }

    /// Builds the model from canonical weight names (`NameMap`).
    public init(config: ASTConfiguration, weights: WeightStore) throws(ModelError) {
        self.config = config
        let d = config.hiddenSize, p = config.patchSize
        let root = weights.scope("audio_spectrogram_transformer")
        let emb = root.scope("embeddings")
        clsToken = try emb.tensor("cls_token", shape: [1, 1, d]).reshaped([d])
        distillationToken = try emb.tensor("distillation_token", shape: [1, 1, d]).reshaped([d])
        let n = config.tokens(frames: config.maxLength)
        positionEmbeddings = try emb.tensor("position_embeddings", shape: [1, n, d]).reshaped([n, d])
        patchWeight = try emb.tensor("patch_embeddings.projection.weight", shape: [d, 1, p, p]).reshaped([d, p * p])
        patchBias = try emb.tensor("patch_embeddings.projection.bias", shape: [d])
        var blocks: [Block] = []
        for l in 0..<config.layers {
            let layer = root.scope("encoder.layer.\(l)")
            let attn = layer.scope("attention")
            blocks.append(Block(
                normBefore: try LayerNorm(layer.scope("layernorm_before"), size: d, eps: config.layerNormEps),
                attention: try SelfAttention(
                    query: try Linear(attn.scope("attention.query"), in: d, out: d, bias: config.qkvBias, int8: true),
                    key: try Linear(attn.scope("attention.key"), in: d, out: d, bias: config.qkvBias, int8: true),
                    value: try Linear(attn.scope("attention.value"), in: d, out: d, bias: config.qkvBias, int8: true),
                    output: try Linear(attn.scope("output.dense"), in: d, out: d, int8: true),
                    heads: config.heads),
                normAfter: try LayerNorm(layer.scope("layernorm_after"), size: d, eps: config.layerNormEps),
                mlp: FeedForward(
                    up: try Linear(layer.scope("intermediate.dense"), in: d, out: config.intermediateSize, int8: true),
                    down: try Linear(layer.scope("output.dense"), in: config.intermediateSize, out: d, int8: true))))
        }
        self.blocks = blocks
        finalNorm = try LayerNorm(root.scope("layernorm"), size: d, eps: config.layerNormEps)
        let classifier = weights.scope("classifier")
        if classifier.contains("dense.weight") {
            let labels = try weights.tensor("classifier.dense.weight").shape[0]
            head = (try LayerNorm(classifier.scope("layernorm"), size: d, eps: config.layerNormEps),
                    try Linear(classifier.scope("dense"), in: d, out: labels))
        } else {
            head = nil
        }
    }

    public struct Output {
        /// `[batch, tokens, hidden]` after the final LayerNorm.
        public var lastHiddenState: Tensor
        /// `[batch, hidden]`: mean of the CLS and distillation outputs.
        public var pooled: Tensor
        /// `[batch, labels]` when the model has a head.
        public var logits: Tensor?
        /// Embedding output and each layer's output (`[batch, tokens, hidden]`), when requested.
        public var hiddenStates: [Tensor]
    }

    /// Runs the model on `features` `[batch, frames, melBins]`: `embed`, then `encode`.
    ///
    /// - Parameters:
    ///   - positionEmbeddings: `[tokens(frames), hidden]` replacing the checkpoint's (IPET packs trained on
    ///     another input length); required when `frames != maxLength`.
    ///   - adaptations: one entry per layer (IPET prompts and adapters), or nil for the frozen backbone.
    public func forward(
        _ features: Tensor, positionEmbeddings overridePositions: Tensor? = nil, adaptations: [LayerAdaptation]? = nil,
        outputHiddenStates: Bool = false, workspace: Workspace = Workspace()
    ) throws(ModelError) -> Output {
        try encode(try embed(features, positionEmbeddings: overridePositions), adaptations: adaptations,
                   outputHiddenStates: outputHiddenStates, workspace: workspace, reuseInput: true)
    }

    /// The part before the first transformer layer, which IPET never changes: patch embedding, CLS and
    /// distillation tokens, position embeddings. `[batch, tokens, hidden]`; several packs on one input share it.
    public func embed(_ features: Tensor, positionEmbeddings overridePositions: Tensor? = nil) throws(ModelError) -> Tensor {
        guard features.rank == 3, features.shape[2] == config.melBins else {
            throw ModelError("AST", "features must be [batch, frames, \(config.melBins)], got \(features.shape)")
        }
        let batch = features.shape[0], frames = features.shape[1], d = config.hiddenSize
        let n = config.tokens(frames: frames)
        let positions = overridePositions ?? positionEmbeddings
        guard positions.shape == [n, d] else {
            throw ModelError("AST", "input has \(frames) frames (\(n) tokens) but the position embeddings cover \(positions.shape[0]) tokens; max_length is \(config.maxLength)")
        }
        let h = Tensor(zeros: [batch, n, d])
        StageTimer.measure("ast.patch_embedding") { embedTokens(features, into: h.mutableData, positions: positions) }
        return h
    }

    /// The transformer layers (with the pack's prompts and adapters), the final LayerNorm, pooling and the
    /// checkpoint's head, on the output of `embed`. With `reuseInput` the layers work in `tokens` itself; otherwise
    /// on a copy, so one `embed` can feed several packs.
    public func encode(
        _ tokens: Tensor, adaptations: [LayerAdaptation]? = nil, outputHiddenStates: Bool = false,
        workspace: Workspace = Workspace(), reuseInput: Bool = false
    ) throws(ModelError) -> Output {
        guard tokens.rank == 3, tokens.shape[2] == config.hiddenSize else {
            throw ModelError("AST", "tokens must be [batch, tokens, \(config.hiddenSize)], got \(tokens.shape)")
        }
        if let adaptations, adaptations.count != config.layers {
            throw ModelError("AST", "\(adaptations.count) layer adaptations for \(config.layers) layers")
        }
        let batch = tokens.shape[0], n = tokens.shape[1], d = config.hiddenSize
        let h = reuseInput ? tokens : tokens.copy()
        var hidden: [Tensor] = outputHiddenStates ? [h.copy()] : []
        StageTimer.measure("ast.layers") {
            for (l, block) in blocks.enumerated() {
                run(block, adaptation: adaptations?[l], on: h.mutableData, batch: batch, tokens: n, workspace: workspace)
                if outputHiddenStates { hidden.append(h.copy()) }
            }
        }
        let last = Tensor(zeros: [batch, n, d])
        finalNorm(h.data, rows: batch * n, into: last.mutableData)
        let pooled = Tensor(zeros: [batch, d])
        for b in 0..<batch {
            let out = pooled.mutableData + b * d, first = last.data + b * n * d
            for i in 0..<d { out[i] = (first[i] + first[d + i]) * 0.5 }
        }
        var logits: Tensor?
        if let head {
            let normed = Tensor(zeros: [batch, d])
            head.norm(pooled.data, rows: batch, into: normed.mutableData)
            let y = Tensor(zeros: [batch, head.dense.outFeatures])
            head.dense(normed.data, rows: batch, into: y.mutableData)
            logits = y
        }
        return Output(lastHiddenState: last, pooled: pooled, logits: logits, hiddenStates: hidden)
    }

    /// Patch embedding (as im2col + GEMM), CLS/distillation tokens and position embeddings.
    func embedTokens(_ features: Tensor, into h: UnsafeMutablePointer<Float>, positions: Tensor) {
        let batch = features.shape[0], frames = features.shape[1], bins = config.melBins
        let p = config.patchSize, d = config.hiddenSize
        let fPatches = config.frequencyPatches, tPatches = config.timePatches(frames: frames)
        let patches = fPatches * tPatches, n = patches + 2
        let columns = Tensor(zeros: [patches, p * p])
        for b in 0..<batch {
            let x = features.data + b * frames * bins
            // Row for patch (i, j) holds x[time = s_t·j + v, freq = s_f·i + u] at column u·P + v.
            let col = columns.mutableData
            for i in 0..<fPatches {
                for j in 0..<tPatches {
                    let row = col + (i * tPatches + j) * p * p
                    let f0 = config.frequencyStride * i, t0 = config.timeStride * j
                    for u in 0..<p {
                        for v in 0..<p { row[u * p + v] = x[(t0 + v) * bins + f0 + u] }
                    }
                }
            }
            let out = h + b * n * d
            Gemm.linear(col, rows: patches, inFeatures: p * p, weight: patchWeight, bias: patchBias, into: out + 2 * d)
            out.update(from: clsToken.data, count: d)
            (out + d).update(from: distillationToken.data, count: d)
            Kernels.add(out, positions.data, into: out, count: n * d)
        }
    }

    /// One pre-LN block on `h` `[batch, tokens, D]` in place, with IPET prompts prepended for the block and
    /// dropped after it, and the parallel adapter fed the residual stream before `layernorm_after` (with `dropout`
    /// in training).
    func run(_ block: Block, adaptation: LayerAdaptation?, dropout: AdapterDropout? = nil, on h: UnsafeMutablePointer<Float>, batch: Int,
             tokens n: Int, workspace: Workspace) {
        let d = config.hiddenSize
        let k = adaptation?.promptCount ?? 0
        let m = n + k
        let rows = batch * m
        // The block's sequence: [prompts, tokens] per item (a copy only when prompts are present).
        let x = adaptation?.prependPrompts(to: h, batch: batch, tokens: n, hidden: d, workspace: workspace) ?? h
        let normed = workspace.buffer("ast.normed", count: rows * d)
        let branch = workspace.buffer("ast.branch", count: rows * d)
        block.normBefore(x, rows: rows, into: normed)
        block.attention(normed, batch: batch, tokens: m, into: branch, workspace: workspace)
        Kernels.add(x, branch, into: x, count: rows * d)
        // The adapter reads the same residual stream as layernorm_after; its output joins the MLP branch.
        let adapted = adaptation?.adapterOutput(x, rows: rows, dropout: dropout, workspace: workspace)
        block.normAfter(x, rows: rows, into: normed)
        block.mlp(normed, rows: rows, into: branch, workspace: workspace)
        Kernels.add(x, branch, into: x, count: rows * d)
        if let adapted { Kernels.add(x, adapted, into: x, count: rows * d) }
        adaptation?.dropPrompts(from: x, into: h, batch: batch, tokens: n, hidden: d)
    }
}

extension AudioSpectrogramTransformer {
    /// The checkpoint's position table `[tokens(maxLength), D]`.
    public var checkpointPositionEmbeddings: Tensor { positionEmbeddings }

    /// Position embeddings for inputs of `frames` frames, adapted as the original AST code does (`docs/ipet-method.md` §4.1):
    /// the patch vectors form a `[D, F', T']` grid; fewer time patches keep the centre columns
    /// `[T'/2 − t/2, T'/2 − t/2 + t)`, more are made by bilinear interpolation of the grid to `[F', t]`
    /// (PyTorch `interpolate(mode="bilinear", align_corners=False)`); CLS and distillation vectors are kept.
    public func positionEmbeddings(forFrames frames: Int, from table: Tensor? = nil) throws(ModelError) -> Tensor {
        let base = table ?? positionEmbeddings
        let d = config.hiddenSize, f = config.frequencyPatches
        let tOld = config.timePatches(frames: config.maxLength), tNew = config.timePatches(frames: frames)
        guard frames >= config.patchSize, tNew > 0 else {
            throw ModelError("AST", "an input of \(frames) frames is shorter than one patch (\(config.patchSize) frames)")
        }
        if tNew == tOld { return base }
        let out = Tensor(zeros: [2 + f * tNew, d])
        out.mutableData.update(from: base.data, count: 2 * d)
        let src = base.data + 2 * d, dst = out.mutableData + 2 * d
        // Grid cell (i, j) of the token sequence is token i·T + j.
        if tNew < tOld {
            let start = tOld / 2 - tNew / 2
            for i in 0..<f {
                for j in 0..<tNew { (dst + (i * tNew + j) * d).update(from: src + (i * tOld + start + j) * d, count: d) }
            }
        } else {
            let scale = Double(tOld) / Double(tNew)
            for j in 0..<tNew {
                let source = max(0, scale * (Double(j) + 0.5) - 0.5)
                let j0 = Int(source)
                let j1 = j0 < tOld - 1 ? j0 + 1 : j0
                let w1 = Float(source - Double(j0)), w0 = 1 - w1
                for i in 0..<f {
                    let a = src + (i * tOld + j0) * d, b = src + (i * tOld + j1) * d, o = dst + (i * tNew + j) * d
                    for c in 0..<d { o[c] = w0 * a[c] + w1 * b[c] }
                }
            }
        }
        return out
    }
}
