import IPETFormats
import IPETTensor

/// wav2vec 2.0 (Baevski et al. 2020) as transformers' `Wav2Vec2Model` computes it in eval mode
/// (`docs/model-numerics.md` §B.3–B.6), with optional IPET prompts and adapters per layer.
///
///     z      = ConvFeatureEncoder(x)                                  [T, C]   (GELU(norm(conv)) per layer)
///     e      = LN(z) (extract_features);  h = Linear(e)               [T, D]
///     h      = h + GELU(WeightNormConv_{K, groups G}(h)) (last frame dropped when K is even)
///     post-LN: h = LN(h); per layer a = LN(h + Attn(h)); h = LN_final(a + FFN(a))
///     pre-LN : per layer h = h + Attn(LN(h)); h = h + FFN(LN_final(h)); after the last, h = LN(h)
public final class Wav2Vec2Model: @unchecked Sendable {
    /// The most frames one forward pass takes (5 min of 16 kHz audio through the base stack). Memory grows with the
    /// length (hidden states; the conv encoder runs in chunks) and with its square in attention (T² scores per
    /// worker thread): 299 s through the base model peaked at 3.2 GB (2 threads), so longer audio is refused with a
    /// clear error instead of exhausting memory, and callers cut it into windows.
    public static let maximumFrames = 15_000

    public let config: Wav2Vec2Configuration

    struct ConvLayer: Sendable {
        /// `[out, k·in]` with columns ordered (tap j, input channel c): matches an im2col row of time-major input.
        let weight: Tensor
        let bias: Tensor?
        let kernel: Int
        let stride: Int
        let inChannels: Int
        let outChannels: Int
        /// GroupNorm (group mode, layer 0 only) or LayerNorm (layer mode) affine parameters.
        let norm: (weight: Tensor, bias: Tensor)?
    }

    struct Block: Sendable {
        let attention: SelfAttention
        let attentionNorm: LayerNorm
        let feedForward: FeedForward
        let finalNorm: LayerNorm
    }

    let convLayers: [ConvLayer]
    let projectionNorm: LayerNorm
    let projection: Linear
    /// Effective positional-conv weight per group, `[G][Cg out, K·Cg in]` columns ordered (tap, channel).
    let positionWeight: Tensor
    let positionBias: Tensor
    let encoderNorm: LayerNorm
    let blocks: [Block]

    public init(config: Wav2Vec2Configuration, weights: WeightStore) throws(ModelError) {
        self.config = config
        let root = weights.scope("wav2vec2")
        var convLayers: [ConvLayer] = []
        var inChannels = 1
        for (i, out) in config.convDim.enumerated() {
            let k = config.convKernel[i]
            let layer = root.scope("feature_extractor.conv_layers.\(i)")
            // Stored int8 in an int8 model (the conv encoder and the positional convolution hold 9 M of base's 95 M
            // parameters: without them the file is 0.32× float32's, with them 0.26×), computed in float32.
            let w = try weights.storedInt8Tensor(layer.path("conv.weight"), shape: [out, inChannels, k])
            let bias = config.convBias ? try layer.tensor("conv.bias", shape: [out]) : nil
            var norm: (Tensor, Tensor)?
            if config.featureNorm == .layer || i == 0 {
                norm = (try layer.tensor("layer_norm.weight", shape: [out]), try layer.tensor("layer_norm.bias", shape: [out]))
            }
            convLayers.append(ConvLayer(
                weight: Self.tapMajor(w, out: out, inChannels: inChannels, kernel: k), bias: bias, kernel: k,
                stride: config.convStride[i], inChannels: inChannels, outChannels: out, norm: norm))
            inChannels = out
        }
        self.convLayers = convLayers
        let c = config.convDim.last!, d = config.hiddenSize
        projectionNorm = try LayerNorm(root.scope("feature_projection.layer_norm"), size: c, eps: config.layerNormEps)
        projection = try Linear(root.scope("feature_projection.projection"), in: c, out: d, int8: true)
        let pos = root.scope("encoder.pos_conv_embed.conv")
        let g = config.positionGroups, cg = d / g, kp = config.positionKernel
        let effective: Tensor
        if pos.contains("weight_v") {
            effective = Self.weightNorm(
                v: try weights.storedInt8Tensor(pos.path("weight_v"), shape: [d, cg, kp]), g: try pos.tensor("weight_g", shape: [1, 1, kp]))
        } else {
            effective = try weights.storedInt8Tensor(pos.path("weight"), shape: [d, cg, kp])
        }
        positionWeight = Self.tapMajor(effective, out: d, inChannels: cg, kernel: kp)
        positionBias = try pos.tensor("bias", shape: [d])
        encoderNorm = try LayerNorm(root.scope("encoder.layer_norm"), size: d, eps: config.layerNormEps)
        var blocks: [Block] = []
        for l in 0..<config.layers {
            let layer = root.scope("encoder.layers.\(l)")
            let attn = layer.scope("attention")
            blocks.append(Block(
                attention: try SelfAttention(
                    query: try Linear(attn.scope("q_proj"), in: d, out: d, int8: true),
                    key: try Linear(attn.scope("k_proj"), in: d, out: d, int8: true),
                    value: try Linear(attn.scope("v_proj"), in: d, out: d, int8: true),
                    output: try Linear(attn.scope("out_proj"), in: d, out: d, int8: true),
                    heads: config.heads),
                attentionNorm: try LayerNorm(layer.scope("layer_norm"), size: d, eps: config.layerNormEps),
                feedForward: FeedForward(
                    up: try Linear(layer.scope("feed_forward.intermediate_dense"), in: d, out: config.intermediateSize, int8: true),
                    down: try Linear(layer.scope("feed_forward.output_dense"), in: config.intermediateSize, out: d, int8: true)),
                finalNorm: try LayerNorm(layer.scope("final_layer_norm"), size: d, eps: config.layerNormEps)))
        }
        self.blocks = blocks
    }

    /// Reorders a PyTorch conv weight `[out, in, k]` to `[out, k·in]` with (tap, channel) columns.
    static func tapMajor(_ w: Tensor, out: Int, inChannels: Int, kernel: Int) -> Tensor {
        let t = Tensor(zeros: [out, kernel * inChannels])
        let src = w.data, dst = t.mutableData
        for o in 0..<out {
            for c in 0..<inChannels {
                for j in 0..<kernel { dst[o * kernel * inChannels + j * inChannels + c] = src[(o * inChannels + c) * kernel + j] }
            }
        }
        return t
    }

    /// Weight normalisation with `dim=2`: `W[o,i,k] = g[k] · v[o,i,k] / ‖v[:,:,k]‖` (norm over output and input
    /// channels for each tap), computed once at load in double precision.
    static func weightNorm(v: Tensor, g: Tensor) -> Tensor {
        let (out, inner, k) = (v.shape[0], v.shape[1], v.shape[2])
        var norms = [Double](repeating: 0, count: k)
        let src = v.data
        for i in 0..<(out * inner) {
            for j in 0..<k { norms[j] += Double(src[i * k + j]) * Double(src[i * k + j]) }
        }
        let w = Tensor(zeros: v.shape)
        let dst = w.mutableData
        for i in 0..<(out * inner) {
            for j in 0..<k { dst[i * k + j] = Float(Double(g.data[j]) * Double(src[i * k + j]) / norms[j].squareRoot()) }
        }
        return w
    }

    public struct Output {
        /// `[batch, frames, hidden]`.
        public var lastHiddenState: Tensor
        /// `[batch, frames, conv_dim[-1]]`: the feature-projection LayerNorm output.
        public var extractFeatures: Tensor
        /// transformers' `hidden_states`: the encoder input to layer 0, then every layer's output (for the pre-LN
        /// variant the last entry is the raw last-layer output, before the final encoder LayerNorm, as in 5.x).
        public var hiddenStates: [Tensor]
        /// Valid frames per item.
        public var frames: [Int]
    }

    /// The part before the first transformer layer, which IPET never changes (`embed`'s output): the encoder input
    /// `[batch, frames, hidden]` after the positional convolution (and, post-LN, the encoder LayerNorm).
    public struct Embedded: @unchecked Sendable {
        public var hidden: Tensor
        public var extractFeatures: Tensor
        /// Valid frames per item.
        public var frames: [Int]
        /// Attention key lengths for a right-padded batch, nil when every item is whole.
        public var keyLengths: [Int]?
    }

    /// Runs the model on `batch` waveforms of `samples` samples each (`input_values`, already normalised):
    /// `embed`, then `encode`.
    /// `validSamples` marks right-padding per item: frames past `frames(validSamples)` are zeroed before the
    /// positional convolution and masked as attention keys, exactly like transformers' attention mask.
    public func forward(
        _ input: Tensor, validSamples: [Int]? = nil, adaptations: [LayerAdaptation]? = nil, outputHiddenStates: Bool = false,
        workspace: Workspace = Workspace()
    ) throws(ModelError) -> Output {
        try encode(try embed(input, validSamples: validSamples, workspace: workspace), adaptations: adaptations,
                   outputHiddenStates: outputHiddenStates, workspace: workspace, reuseInput: true)
    }

    /// The convolutional feature encoder, feature projection and positional convolution (post-LN: also the
    /// encoder LayerNorm) — everything IPET leaves alone, so several packs on one input share it. `validSamples` marks
    /// right-padding per item: frames past `frames(validSamples)` are zeroed before the positional convolution and
    /// masked as attention keys, exactly like transformers' attention mask.
    public func embed(_ input: Tensor, validSamples: [Int]? = nil, workspace: Workspace = Workspace()) throws(ModelError) -> Embedded {
        guard input.rank == 2 else { throw ModelError("wav2vec2", "input must be [batch, samples], got \(input.shape)") }
        let batch = input.shape[0], samples = input.shape[1]
        let t = config.frames(samples: samples)
        guard t > 0 else {
            throw ModelError("wav2vec2", "audio of \(samples) samples is shorter than one frame (\(config.receptiveField) samples)")
        }
        guard t <= Self.maximumFrames else {
            throw ModelError("wav2vec2", "audio of \(samples) samples gives \(t) frames, more than the \(Self.maximumFrames) one pass "
                             + "takes (memory grows with the square of the length); cut it into windows")
        }
        let valid = (validSamples ?? Array(repeating: samples, count: batch)).map { min(config.frames(samples: $0), t) }
        let c = config.convDim.last!, d = config.hiddenSize
        let features = Tensor(zeros: [batch, t, c])
        let extract = Tensor(zeros: [batch, t, c])
        StageTimer.measure("w2v.conv_encoder") {
            for b in 0..<batch {
                featureEncoder(input.data + b * samples, samples: samples, into: features.mutableData + b * t * c, workspace: workspace)
            }
        }
        projectionNorm(features.data, rows: batch * t, into: extract.mutableData)
        let h = Tensor(zeros: [batch, t, d])
        projection(extract.data, rows: batch * t, into: h.mutableData)
        for b in 0..<batch where valid[b] < t {
            (h.mutableData + (b * t + valid[b]) * d).update(repeating: 0, count: (t - valid[b]) * d)
        }
        StageTimer.measure("w2v.pos_conv") { addPositionalEmbedding(h.mutableData, batch: batch, frames: t, workspace: workspace) }
        if !config.stableLayerNorm { encoderNorm(h.data, rows: batch * t, into: h.mutableData) }
        return Embedded(hidden: h, extractFeatures: extract, frames: valid, keyLengths: validSamples == nil ? nil : valid)
    }

    /// The transformer layers (with the pack's prompts and adapters) and, pre-LN, the final encoder LayerNorm, on
    /// the output of `embed`. With `reuseInput` the layers work in `embedded.hidden` itself; otherwise on a copy, so
    /// one `embed` can feed several packs.
    public func encode(
        _ embedded: Embedded, adaptations: [LayerAdaptation]? = nil, outputHiddenStates: Bool = false,
        workspace: Workspace = Workspace(), reuseInput: Bool = false
    ) throws(ModelError) -> Output {
        if let adaptations, adaptations.count != config.layers {
            throw ModelError("wav2vec2", "\(adaptations.count) layer adaptations for \(config.layers) layers")
        }
        let h = reuseInput ? embedded.hidden : embedded.hidden.copy()
        let batch = h.shape[0], t = h.shape[1]
        var hidden: [Tensor] = outputHiddenStates ? [h.copy()] : []
        for (l, block) in blocks.enumerated() {
            StageTimer.measure("w2v.layers") {
                run(block, adaptation: adaptations?[l], on: h.mutableData, batch: batch, frames: t, keyLengths: embedded.keyLengths,
                    workspace: workspace)
            }
            if outputHiddenStates { hidden.append(h.copy()) }
        }
        if config.stableLayerNorm { encoderNorm(h.data, rows: batch * t, into: h.mutableData) }
        return Output(lastHiddenState: h, extractFeatures: embedded.extractFeatures, hiddenStates: hidden, frames: embedded.frames)
    }

    /// The convolutional feature encoder for one waveform, writing `[frames, conv_dim[-1]]` time-major.
    ///
    /// Output frame t sees exactly the input samples `t·hop ..< t·hop + receptiveField` (hop = product of the
    /// strides), so the stack runs on chunks of `encoderChunkFrames` output frames, each from its own slice of the
    /// waveform: buffers stay a few MB however long the clip is (a 5-minute clip would otherwise hold ~3 GB of
    /// intermediate activations). The one non-local operation, group mode's GroupNorm over the whole time axis
    /// of layer 0, gets its per-channel statistics in a first pass (layer 0 is a cheap 1-channel convolution).
    func featureEncoder(_ x: UnsafePointer<Float>, samples: Int, into out: UnsafeMutablePointer<Float>, workspace: Workspace) {
        let frames = config.frames(samples: samples)
        let hop = config.convStride.reduce(1, *), field = config.receptiveField, c = convLayers.last!.outChannels
        let groupNorm = config.featureNorm == .group ? StageTimer.measure("w2v.conv.norm_stats") {
            firstLayerGroupNorm(x, samples: samples, workspace: workspace)
        } : nil
        var t0 = 0
        while t0 < frames {
            let n = min(Self.encoderChunkFrames, frames - t0)
            encodeChunk(x + t0 * hop, samples: (n - 1) * hop + field, frames: n, groupNorm: groupNorm,
                        into: out + t0 * c, workspace: workspace)
            t0 += n
        }
    }

    /// Output frames per encoder chunk (2.56 s of 16 kHz audio for the base stack).
    static let encoderChunkFrames = 128

    /// The whole stack on one slice that yields exactly `frames` output frames: per layer, the convolution, its
    /// normalisation (GroupNorm of layer 0 from the clip's statistics, or LayerNorm per step) and GELU.
    private func encodeChunk(_ x: UnsafePointer<Float>, samples: Int, frames expected: Int, groupNorm: ChannelAffine?,
                             into out: UnsafeMutablePointer<Float>, workspace: Workspace) {
        var length = samples
        var current = x
        for (i, layer) in convLayers.enumerated() {
            let frames = (length - layer.kernel) / layer.stride + 1
            let isLast = i == convLayers.count - 1
            precondition(!isLast || frames == expected, "encoder chunk gives \(frames) frames, expected \(expected)")
            let y = isLast ? out : workspace.buffer(i % 2 == 0 ? "conv.a" : "conv.b", count: frames * layer.outChannels)
            let cols = layer.outChannels
            if let norm = layer.norm {
                let layerNorm = config.featureNorm == .layer
                convolve(layer, current, frames: frames, into: y, workspace: workspace) { block, rows in
                    if layerNorm {
                        // LayerNorm over channels at each step; PyTorch's default eps 1e-5 (not config.layer_norm_eps).
                        Kernels.layerNormSerial(block, rows: rows, cols: cols, weight: norm.weight.data, bias: norm.bias.data,
                                                eps: 1e-5, into: block)
                    } else if let groupNorm {
                        groupNorm.apply(block, rows: rows)
                    }
                    Kernels.geluSerial(block, count: rows * cols)
                }
            } else {
                convolve(layer, current, frames: frames, gelu: true, into: y, workspace: workspace)
            }
            current = UnsafePointer(y)
            length = frames
        }
    }

    /// Output rows per im2col block: a block's columns (128 × 1536 floats for the base stack's 3-tap layers, 768 KB)
    /// stay in the core's L2 while the GEMM reads them.
    static let convBlockRows = 128

    /// `y[frames, out] = conv(x) + bias` for time-major `x` (GELU fused when `gelu`), then `epilogue` on each block
    /// of output rows while it is still in cache.
    ///
    /// Time-major input makes output frame t's receptive field one contiguous run of `kernel · in` floats starting at
    /// row `stride · t`, so an im2col row is a plain copy; rows overlap (stride < kernel), which no GEMM descriptor
    /// accepts, hence the copy. Per block of rows on one worker: gather the rows, one `Linear` with the weight packed
    /// once (`[out, k·in]`, columns ordered (tap, channel)), bias and GELU fused, then the epilogue.
    /// *Measured* (C harness, one thread, oneDNN 2.6, 4103×512×1536 as the base stack's second layer per chunk): one
    /// GEMM per tap on the strided input with a sum post-op, as before, 103 GFLOP/s (oneDNN's `gemm:jit`, AVX2
    /// kernel); im2col blocks of 64 / 128 / 256 / 512 / 1024 rows with packed weights 112 / 112 / 106 / 101 / 91
    /// (brgemm). It also replaces a separate GELU pass and normalisation pass over each layer's output.
    private func convolve(_ layer: ConvLayer, _ x: UnsafePointer<Float>, frames: Int, gelu: Bool = false,
                          into y: UnsafeMutablePointer<Float>, workspace: Workspace,
                          epilogue: (@Sendable (UnsafeMutablePointer<Float>, Int) -> Void)? = nil) {
        let width = layer.kernel * layer.inChannels, step = layer.stride * layer.inChannels, cols = layer.outChannels
        // Blocks of at most convBlockRows, and enough of them for every thread when the layer is short.
        let perThread = (frames + ComputeThreads.count - 1) / ComputeThreads.count
        let block = max(1, min(Self.convBlockRows, (perThread + 15) / 16 * 16))
        let blocks = (frames + block - 1) / block
        let workers = ComputeThreads.workers(blocks)
        let columns = workspace.buffer("conv.columns", count: workers * block * width)
        let (px, py, pc) = (SendablePointer(x), SendablePointer(y), SendablePointer(columns))
        let activation: GemmActivation = gelu ? .gelu : .none
        StageTimer.measure("w2v.conv.gemm") {
            ComputeThreads.parallelForWorkers(blocks) { worker, b in
                let f0 = b * block, rows = min(block, frames - f0)
                let col = pc.pointer + worker * block * width
                for f in 0..<rows { (col + f * width).update(from: px.pointer + (f0 + f) * step, count: width) }
                let out = py.pointer + f0 * cols
                Gemm.linear(col, rows: rows, inFeatures: width, weight: layer.weight, bias: layer.bias, activation: activation,
                            into: out, parallel: false)
                epilogue?(out, rows)
            }
        }
    }

    /// Per-channel `y ← y·scale + shift`: a normalisation whose statistics were computed beforehand.
    struct ChannelAffine {
        let scale: [Float]
        let shift: [Float]

        func apply(_ y: UnsafeMutablePointer<Float>, rows: Int) {
            let cols = scale.count
            scale.withUnsafeBufferPointer { scale in
                shift.withUnsafeBufferPointer { shift in
                    for r in 0..<rows {
                        let row = y + r * cols
                        for c in 0..<cols { row[c] = row[c] * scale[c] + shift[c] }
                    }
                }
            }
        }
    }

    /// GroupNorm(groups = channels, eps 1e-5) of layer 0 over the whole clip, as an affine map per channel.
    ///
    /// Layer 0 is linear in its input window: `y[t, c] = w_c · X_t + b_c` with `X_t = x[stride·t ..< stride·t + k]`.
    /// So its per-channel mean over t is `w_c · μ + b_c` and its (biased) variance `w_cᵀ Σ w_c`, where μ and Σ are the
    /// mean and covariance of the k-sample windows — a k×k matrix (10×10 for the base stack) computed in one pass
    /// over the waveform in Double (centred: the windows' mean first), instead of convolving the whole clip twice.
    /// Exact algebra; PyTorch sums the float32 outputs instead, which differs by float32 rounding (~1e-7 relative).
    private func firstLayerGroupNorm(_ x: UnsafePointer<Float>, samples: Int, workspace: Workspace) -> ChannelAffine {
        let layer = convLayers[0], cols = layer.outChannels, k = layer.kernel * layer.inChannels
        let step = layer.stride * layer.inChannels
        let frames = (samples - layer.kernel) / layer.stride + 1
        var mu = [Double](repeating: 0, count: k)
        for t in 0..<frames {
            let window = x + t * step
            for j in 0..<k { mu[j] += Double(window[j]) }
        }
        for j in 0..<k { mu[j] /= Double(frames) }
        var sigma = [Double](repeating: 0, count: k * k)
        var centred = [Double](repeating: 0, count: k)
        for t in 0..<frames {
            let window = x + t * step
            for j in 0..<k { centred[j] = Double(window[j]) - mu[j] }
            for j in 0..<k {
                let a = centred[j]
                for l in j..<k { sigma[j * k + l] += a * centred[l] }
            }
        }
        for j in 0..<k {
            for l in j..<k {
                sigma[j * k + l] /= Double(frames)
                sigma[l * k + j] = sigma[j * k + l]
            }
        }
        let (weight, bias) = (layer.norm!.weight, layer.norm!.bias)
        var scale = [Float](repeating: 0, count: cols), shift = [Float](repeating: 0, count: cols)
        for c in 0..<cols {
            let w = layer.weight.data + c * k
            var mean = layer.bias.map { Double($0.data[c]) } ?? 0, variance = 0.0
            for j in 0..<k {
                mean += Double(w[j]) * mu[j]
                var row = 0.0
                for l in 0..<k { row += sigma[j * k + l] * Double(w[l]) }
                variance += Double(w[j]) * row
            }
            let inv = 1 / (max(variance, 0) + 1e-5).squareRoot()
            scale[c] = Float(inv) * weight.data[c]
            shift[c] = bias.data[c] - Float(mean * inv) * weight.data[c]
        }
        return ChannelAffine(scale: scale, shift: shift)
    }

    /// `h ← h + GELU(conv(h))` with the grouped, weight-normalised positional convolution; zero padding of
    /// ⌊K/2⌋ on both sides and, for even K, the extra last output frame dropped — so output frame t sees input
    /// frames t − ⌊K/2⌋ … t − ⌊K/2⌋ + K − 1.
    func addPositionalEmbedding(_ h: UnsafeMutablePointer<Float>, batch: Int, frames t: Int, workspace: Workspace) {
        let d = config.hiddenSize, g = config.positionGroups, cg = d / g, k = config.positionKernel, pad = k / 2
        let width = k * cg
        // Jobs are (group, block of output rows): each gathers its rows' receptive fields (im2col, zero outside the
        // sequence), multiplies them by the group's weights as a Linear `[Cg out, K·Cg in]` (oneDNN packs each
        // group's view once and fuses the bias and GELU), and writes the group's columns. A block's columns
        // (32 × 128 taps × 48 channels for base, 768 KB) stay in L2; whole-sequence im2col per group was 12 MB.
        let block = min(t, Self.positionBlockRows)
        let blocks = (t + block - 1) / block
        let jobs = g * blocks
        let workers = ComputeThreads.workers(jobs)
        let pos = workspace.buffer("pos.out", count: t * d)
        let scratch = workspace.buffer("pos.columns", count: workers * block * (width + cg))
        let (pp, ps) = (SendablePointer(pos), SendablePointer(scratch))
        let (weight, bias) = (positionWeight, positionBias)
        for b in 0..<batch {
            let x = h + b * t * d
            let px = SendablePointer(x)
            ComputeThreads.parallelForWorkers(jobs) { worker, job in
                let group = job / blocks, f0 = (job % blocks) * block, rows = min(block, t - f0)
                let columns = ps.pointer + worker * block * (width + cg), groupOut = columns + block * width
                for r in 0..<rows {
                    let row = columns + r * width
                    for j in 0..<k {
                        let src = f0 + r - pad + j
                        if src >= 0 && src < t {
                            (row + j * cg).update(from: px.pointer + src * d + group * cg, count: cg)
                        } else {
                            (row + j * cg).update(repeating: 0, count: cg)
                        }
                    }
                }
                Gemm.linear(columns, rows: rows, inFeatures: width, weight: weight.rows(group * cg, count: cg),
                            bias: bias.rows(group * cg, count: cg), activation: .gelu, into: groupOut, parallel: false)
                for r in 0..<rows { (pp.pointer + (f0 + r) * d + group * cg).update(from: groupOut + r * cg, count: cg) }
            }
            Kernels.add(x, pos, into: x, count: t * d)
        }
    }

    /// Output rows per positional-convolution job.
    static let positionBlockRows = 32

    /// One encoder layer in place on `h` `[batch, frames, D]`, with IPET prompts prepended for the layer and
    /// dropped after its final LayerNorm, and the parallel adapter (`docs/ipet-method.md` §2) beside the feed-forward block
    /// (with `dropout` in training).
    func run(_ block: Block, adaptation: LayerAdaptation?, dropout: AdapterDropout? = nil, on h: UnsafeMutablePointer<Float>,
             batch: Int, frames n: Int, keyLengths: [Int]?, workspace: Workspace) {
        let d = config.hiddenSize
        let k = adaptation?.promptCount ?? 0
        let m = n + k
        let rows = batch * m
        let x = adaptation?.prependPrompts(to: h, batch: batch, tokens: n, hidden: d, workspace: workspace) ?? h
        let keys = keyLengths?.map { $0 + k }
        let normed = workspace.buffer("w2v.normed", count: rows * d)
        let branch = workspace.buffer("w2v.branch", count: rows * d)
        // The parallel adapter reads the residual stream after attention (before the feed-forward block's norm, in
        // both orders) and its output joins the feed-forward branch.
        if config.stableLayerNorm {
            block.attentionNorm(x, rows: rows, into: normed)
            block.attention(normed, batch: batch, tokens: m, keyLengths: keys, into: branch, workspace: workspace)
            Kernels.add(x, branch, into: x, count: rows * d)
            let adapted = adaptation?.adapterOutput(x, rows: rows, dropout: dropout, workspace: workspace)
            block.finalNorm(x, rows: rows, into: normed)
            block.feedForward(normed, rows: rows, into: branch, workspace: workspace)
            Kernels.add(x, branch, into: x, count: rows * d)
            if let adapted { Kernels.add(x, adapted, into: x, count: rows * d) }
        } else {
            block.attention(x, batch: batch, tokens: m, keyLengths: keys, into: branch, workspace: workspace)
            Kernels.add(x, branch, into: x, count: rows * d)
            let adapted = adaptation?.adapterOutput(x, rows: rows, dropout: dropout, workspace: workspace)
            block.attentionNorm(x, rows: rows, into: x)
            block.feedForward(x, rows: rows, into: branch, workspace: workspace)
            Kernels.add(x, branch, into: x, count: rows * d)
            if let adapted { Kernels.add(x, adapted, into: x, count: rows * d) }
            block.finalNorm(x, rows: rows, into: x)
        }
        adaptation?.dropPrompts(from: x, into: h, batch: batch, tokens: n, hidden: d)
    }
}
