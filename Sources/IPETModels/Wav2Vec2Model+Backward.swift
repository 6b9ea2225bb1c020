import IPETTensor

extension Wav2Vec2Model {
    /// The encoder layers for training, from the first layer's input `h0` (`embed`), with `dropouts[l]` on
    /// layer l's adapter; every layer's input is kept for `backward` (unless `keepInputs` is false:
    /// validation). Returns the encoder output `[batch, frames,
    /// hidden]` that mean-std pooling reads (pre-LN: after the encoder LayerNorm).
    func trainingForward(_ h0: Tensor, keyLengths: [Int]?, adaptations: [LayerAdaptation], dropouts: [AdapterDropout?],
                         keepInputs: Bool = true, workspace: Workspace) -> (output: Tensor, activations: TrainingActivations)
    {
        let (batch, t, d) = (h0.shape[0], h0.shape[1], h0.shape[2])
        let h = h0.copy()
        var inputs: [Tensor] = []
        for (l, block) in blocks.enumerated() {
            if keepInputs { inputs.append(h.copy()) }
            run(block, adaptation: adaptations[l], dropout: dropouts[l], on: h.mutableData, batch: batch, frames: t,
                keyLengths: keyLengths, workspace: workspace)
        }
        let activations = TrainingActivations(inputs: inputs, output: h, keyLengths: keyLengths)
        guard config.stableLayerNorm else { return (h, activations) }
        let out = Tensor(zeros: [batch, t, d])
        encoderNorm(h.data, rows: batch * t, into: out.mutableData)
        return (out, activations)
    }

    /// The backward pass of `trainingForward` for the gradient `dOutput` of its output (pre-LN: through the encoder
    /// LayerNorm first), layer by layer from the last down, adding the prompts' and adapters' gradients to
    /// `gradients`. Nothing below the first layer is differentiated.
    func backward(_ activations: TrainingActivations, outputGradient dOutput: Tensor, adaptations: [LayerAdaptation],
                  gradients: [LayerAdaptation.Gradient], dropouts: [AdapterDropout?], workspace: Workspace) {
        let (batch, t) = (activations.batch, activations.tokens), d = config.hiddenSize
        let dh = Tensor(zeros: [batch, t, d])
        if config.stableLayerNorm {
            encoderNorm.backward(input: activations.output.data, dOutput.data, rows: batch * t, into: dh.mutableData, accumulate: false)
        } else {
            dh.mutableData.update(from: dOutput.data, count: batch * t * d)
        }
        for l in blocks.indices.reversed() {
            let block = blocks[l]
            if config.stableLayerNorm {
                PreLayerNormBlock(norm1: block.attentionNorm, attention: block.attention, norm2: block.finalNorm,
                                  feedForward: block.feedForward)
                    .backward(adaptation: adaptations[l], gradient: gradients[l], dropout: dropouts[l], input: activations.inputs[l],
                              outputGradient: dh.mutableData, batch: batch, tokens: t, keyLengths: activations.keyLengths,
                              workspace: workspace)
            } else {
                postLayerNormBackward(block, adaptation: adaptations[l], gradient: gradients[l], dropout: dropouts[l],
                                      input: activations.inputs[l], outputGradient: dh.mutableData, batch: batch, frames: t,
                                      keyLengths: activations.keyLengths, workspace: workspace)
            }
        }
    }

    /// One post-LN layer's backward pass (`docs/ipet-method.md` §2), recomputed from its input `h`:
    ///
    ///     forward:  x = [prompts; h];  h1 = x + Attn(x);  g = LN(h1);  u = g + FFN(g) + A(h1);  out = LN_final(u)
    ///     backward: du = LN_finalᵀ(dout);  dg = du + FFNᵀ(du);  dh1 = LNᵀ(dg) + Aᵀ(du);  dx = dh1 + Attnᵀ(dh1)
    ///
    /// with `A(h1)` returning `h1 + a` under the official residual flag, so `Aᵀ(du)` includes `du` then.
    func postLayerNormBackward(_ block: Block, adaptation: LayerAdaptation?, gradient: LayerAdaptation.Gradient?, dropout: AdapterDropout?,
                               input h: Tensor, outputGradient dh: UnsafeMutablePointer<Float>, batch: Int, frames n: Int,
                               keyLengths: [Int]?, workspace: Workspace) {
        let d = config.hiddenSize, k = adaptation?.promptCount ?? 0, m = n + k, rows = batch * m
        let keys = keyLengths?.map { $0 + k }
        let x = adaptation?.prependPrompts(to: h.mutableData, batch: batch, tokens: n, hidden: d, workspace: workspace) ?? h.mutableData
        // Recompute h1 (keeping q, k, v), g = LN(h1), z = fc1(g) and the final LayerNorm's input u.
        let q = workspace.buffer("block.q", count: rows * d), kk = workspace.buffer("block.k", count: rows * d)
        let v = workspace.buffer("block.v", count: rows * d), h1 = workspace.buffer("block.h1", count: rows * d)
        let g = workspace.buffer("block.a1", count: rows * d), u = workspace.buffer("block.u", count: rows * d)
        let z = workspace.buffer("block.z", count: rows * block.feedForward.up.outFeatures)
        block.attention.forward(x, batch: batch, tokens: m, keyLengths: keys, q: q, k: kk, v: v, into: h1, workspace: workspace)
        Kernels.add(h1, x, into: h1, count: rows * d)
        block.attentionNorm(h1, rows: rows, into: g)
        block.feedForward.preActivation(g, rows: rows, into: z)
        block.feedForward.forward(preActivation: z, rows: rows, into: u, workspace: workspace)
        Kernels.add(u, g, into: u, count: rows * d)
        if let adapted = adaptation?.adapterOutput(h1, rows: rows, dropout: dropout, workspace: workspace) {
            Kernels.add(u, adapted, into: u, count: rows * d)
        }
        // Backward.
        let dout = adaptation?.outputGradient(dh, batch: batch, tokens: n, hidden: d, workspace: workspace) ?? dh
        let du = workspace.buffer("block.du", count: rows * d), dg = workspace.buffer("block.g", count: rows * d)
        let dh1 = workspace.buffer("block.dh1", count: rows * d)
        block.finalNorm.backward(input: u, dout, rows: rows, into: du, accumulate: false)
        dg.update(from: du, count: rows * d)
        block.feedForward.backward(preActivation: z, du, rows: rows, into: dg, accumulate: true, workspace: workspace)
        block.attentionNorm.backward(input: h1, dg, rows: rows, into: dh1, accumulate: false)
        if let adapter = adaptation?.adapter, let adapterGradient = gradient?.adapter {
            adapter.backward(input: h1, du, rows: rows, dropout: dropout, gradient: adapterGradient, addingTo: dh1, workspace: workspace)
        }
        block.attention.backward(q: q, k: kk, v: v, dh1, batch: batch, tokens: m, keyLengths: keys, into: dh1, accumulate: true,
                                 workspace: workspace)
        if let adaptation {
            adaptation.backwardPrompts(dh1, into: dh, batch: batch, tokens: n, hidden: d, gradient: gradient)
        } else {
            dh.update(from: dh1, count: rows * d)
        }
    }
}
