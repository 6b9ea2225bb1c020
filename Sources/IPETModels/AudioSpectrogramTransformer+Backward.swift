import IPETTensor

extension AudioSpectrogramTransformer {
    /// The layers for training, from the first layer's input `h0` (`embed`), with `dropouts[l]` on layer l's
    /// adapter; every layer's input is kept for `backward` (unless `keepInputs` is false:
    /// validation). Returns `pooled` `[batch, hidden]` = the mean of the
    /// final-LayerNorm CLS and distillation outputs (the only rows IPET's heads read).
    func trainingForward(_ h0: Tensor, adaptations: [LayerAdaptation], dropouts: [AdapterDropout?], keepInputs: Bool = true,
                         workspace: Workspace)
        -> (pooled: Tensor, activations: TrainingActivations)
    {
        let (batch, n, d) = (h0.shape[0], h0.shape[1], h0.shape[2])
        let h = h0.copy()
        var inputs: [Tensor] = []
        for (l, block) in blocks.enumerated() {
            if keepInputs { inputs.append(h.copy()) }
            run(block, adaptation: adaptations[l], dropout: dropouts[l], on: h.mutableData, batch: batch, tokens: n, workspace: workspace)
        }
        let ends = Tensor(zeros: [batch, 2, d]), pooled = Tensor(zeros: [batch, d])
        for b in 0..<batch {
            finalNorm(h.data + b * n * d, rows: 2, into: ends.mutableData + b * 2 * d)
            let e = ends.data + b * 2 * d, out = pooled.mutableData + b * d
            for i in 0..<d { out[i] = (e[i] + e[d + i]) * 0.5 }
        }
        return (pooled, TrainingActivations(inputs: inputs, output: h, keyLengths: nil))
    }

    /// The backward pass of `trainingForward` for the gradient `dPooled` `[batch, hidden]`: half of it reaches each of
    /// the CLS and distillation rows through the final LayerNorm, then every layer from the last down adds its
    /// prompts' and adapter's gradients to `gradients`. Nothing below the first layer is differentiated.
    func backward(_ activations: TrainingActivations, pooledGradient dPooled: Tensor, adaptations: [LayerAdaptation],
                  gradients: [LayerAdaptation.Gradient], dropouts: [AdapterDropout?], workspace: Workspace) {
        let (batch, n) = (activations.batch, activations.tokens), d = config.hiddenSize
        let dh = Tensor(zeros: [batch, n, d])
        let half = Tensor(zeros: [2, d])
        for b in 0..<batch {
            for i in 0..<d {
                half.mutableData[i] = dPooled.data[b * d + i] * 0.5
                half.mutableData[d + i] = half.data[i]
            }
            finalNorm.backward(input: activations.output.data + b * n * d, half.data, rows: 2, into: dh.mutableData + b * n * d,
                               accumulate: false)
        }
        for l in blocks.indices.reversed() {
            let block = blocks[l]
            PreLayerNormBlock(norm1: block.normBefore, attention: block.attention, norm2: block.normAfter, feedForward: block.mlp)
                .backward(adaptation: adaptations[l], gradient: gradients[l], dropout: dropouts[l], input: activations.inputs[l],
                          outputGradient: dh.mutableData, batch: batch, tokens: n, keyLengths: nil, workspace: workspace)
        }
    }
}
