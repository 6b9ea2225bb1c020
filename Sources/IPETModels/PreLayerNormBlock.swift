import IPETTensor

/// A pre-LN transformer layer with IPET's prompts and parallel adapter, as AST (ViT blocks) and pre-LN ("stable layer
/// norm") wav2vec 2.0 compute it (`docs/ipet-method.md` §2):
///
///     x = [prompts; h];  h1 = x + Attn(LN₁(x));  out = h1 + FFN(LN₂(h1)) + A(h1);  h' = out without the prompt rows
///
/// The models run the forward themselves; this is the backward pass both share.
struct PreLayerNormBlock {
    let norm1: LayerNorm
    let attention: SelfAttention
    let norm2: LayerNorm
    let feedForward: FeedForward

    /// Replaces the gradient `dh` `[batch, tokens, hidden]` of the layer's output by that of its input `h` (kept by the
    /// training forward) and adds the gradients of the layer's prompts and adapter. The layer is recomputed from `h`:
    ///
    ///     dout = [0; dh];  dh1 = dout + LN₂ᵀ(FFNᵀ(dout)) + Aᵀ(dout);  dx = dh1 + LN₁ᵀ(Attnᵀ(dh1))
    ///     ∂prompts += Σ_items dx[prompt rows];  dh = dx[token rows]
    ///
    /// where Fᵀ(g) is the input gradient of F for output gradient g (each layer's `backward`).
    func backward(adaptation: LayerAdaptation?, gradient: LayerAdaptation.Gradient?, dropout: AdapterDropout?, input h: Tensor,
                  outputGradient dh: UnsafeMutablePointer<Float>, batch: Int, tokens n: Int, keyLengths: [Int]?, workspace: Workspace) {
        let d = attention.hidden, k = adaptation?.promptCount ?? 0, m = n + k, rows = batch * m
        let keys = keyLengths?.map { $0 + k }
        let x = adaptation?.prependPrompts(to: h.mutableData, batch: batch, tokens: n, hidden: d, workspace: workspace) ?? h.mutableData
        // Recompute: h1 = x + Attn(LN₁(x)), keeping q, k, v; the FFN's pre-activation z = fc1(LN₂(h1)).
        let a1 = workspace.buffer("block.a1", count: rows * d)
        let q = workspace.buffer("block.q", count: rows * d), kk = workspace.buffer("block.k", count: rows * d)
        let v = workspace.buffer("block.v", count: rows * d), h1 = workspace.buffer("block.h1", count: rows * d)
        let z = workspace.buffer("block.z", count: rows * feedForward.up.outFeatures)
        norm1(x, rows: rows, into: a1)
        attention.forward(a1, batch: batch, tokens: m, keyLengths: keys, q: q, k: kk, v: v, into: h1, workspace: workspace)
        Kernels.add(h1, x, into: h1, count: rows * d)
        norm2(h1, rows: rows, into: a1)
        feedForward.preActivation(a1, rows: rows, into: z)
        // Backward.
        let dout = adaptation?.outputGradient(dh, batch: batch, tokens: n, hidden: d, workspace: workspace) ?? dh
        let g = workspace.buffer("block.g", count: rows * d), dh1 = workspace.buffer("block.dh1", count: rows * d)
        feedForward.backward(preActivation: z, dout, rows: rows, into: g, accumulate: false, workspace: workspace)
        dh1.update(from: dout, count: rows * d)
        norm2.backward(input: h1, g, rows: rows, into: dh1, accumulate: true)
        if let adapter = adaptation?.adapter, let adapterGradient = gradient?.adapter {
            adapter.backward(input: h1, dout, rows: rows, dropout: dropout, gradient: adapterGradient, addingTo: dh1, workspace: workspace)
        }
        attention.backward(q: q, k: kk, v: v, dh1, batch: batch, tokens: m, keyLengths: keys, into: g, accumulate: false,
                           workspace: workspace)
        norm1.backward(input: x, g, rows: rows, into: dh1, accumulate: true)
        if let adaptation {
            adaptation.backwardPrompts(dh1, into: dh, batch: batch, tokens: n, hidden: d, gradient: gradient)
        } else {
            dh.update(from: dh1, count: rows * d)
        }
    }
}
