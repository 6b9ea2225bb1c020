import IPETTensor

extension TaskHead {
    /// The gradients of a trainable IPET head (`docs/ipet-method.md` §4.4): LayerNorm and Linear of the classifier, and
    /// the speaker head's embedding layer.
    public struct Gradient: Sendable {
        public let embedding: Linear.Gradient?
        public let norm: LayerNorm.Gradient
        public let linear: Linear.Gradient

        public init(embedding: Linear.Gradient?, norm: LayerNorm.Gradient, linear: Linear.Gradient) {
            self.embedding = embedding
            self.norm = norm
            self.linear = linear
        }
    }

    /// A head made of trainable layers (`PackParameters`).
    init(source: String, pooling: Pooling, layers: Layers) {
        self.source = source
        self.pooling = pooling
        self.layers = layers
    }

    /// The classifier's logits `[batch, classes]` for pooled vectors `[batch, width]` (IPET's linear heads, and
    /// speaker heads with a classifier).
    func logits(pooled: Tensor) throws(ModelError) -> Tensor {
        let rows = try self(pooled: pooled)
        guard let first = rows.first?.logits else {
            throw ModelError(source, "this head has no classifier, so it cannot be trained with class labels")
        }
        return Tensor(shape: [rows.count, first.count], values: rows.flatMap { $0.logits ?? [] })
    }

    /// The input gradient of the head for the logits' gradient `dLogits`, adding the parameters' gradients to
    /// `gradient`; intermediate values are recomputed from `pooled` (a few rows).
    ///
    ///     linear : logits = Linear(LN(p))                 dp = LNᵀ(Linearᵀ(dlogits))
    ///     speaker: e = E(p); logits = Linear(LN(e))        dp = Eᵀ(LNᵀ(Linearᵀ(dlogits)))
    func backward(pooled: Tensor, logitsGradient dLogits: Tensor, gradient: Gradient) throws(ModelError) -> Tensor {
        let batch = pooled.shape[0]
        /// Through LayerNorm + Linear from their input `x` `[batch, n]`, returning dx.
        func classifier(_ norm: LayerNorm, _ linear: Linear, input x: Tensor) -> Tensor {
            let normed = Tensor(zeros: x.shape)
            norm(x.data, rows: batch, into: normed.mutableData)
            linear.accumulateGradient(dLogits.data, input: normed.data, rows: batch, into: gradient.linear)
            let dNormed = Tensor(zeros: x.shape)
            linear.backward(dLogits.data, rows: batch, into: dNormed.mutableData)
            let dx = Tensor(zeros: x.shape)
            norm.backward(input: x.data, dNormed.data, rows: batch, into: dx.mutableData, accumulate: false, gradient: gradient.norm)
            return dx
        }
        switch layers {
        case let .linear(norm, linear):
            return classifier(norm, linear, input: pooled)
        case let .speaker(embedding, c?):
            guard let embeddingGradient = gradient.embedding else { throw ModelError(source, "speaker head gradient without its embedding layer") }
            let e = Tensor(zeros: [batch, embedding.outFeatures])
            embedding(pooled.data, rows: batch, into: e.mutableData)
            let de = classifier(c.norm, c.linear, input: e)
            embedding.accumulateGradient(de.data, input: pooled.data, rows: batch, into: embeddingGradient)
            let dp = Tensor(zeros: pooled.shape)
            embedding.backward(de.data, rows: batch, into: dp.mutableData)
            return dp
        case .speaker(_, nil), .sequenceClassification, .xvector:
            throw ModelError(source, "only IPET's classifier heads (ast-pooled, mean-std, speaker with a classifier) can be trained")
        }
    }

    /// The gradient of `h` `[batch, frames, hidden]` from that of its mean-std pooling (`meanStd`), over each item's
    /// first `frames[b]` frames (the others get 0), with μ and the unbiased σ recomputed in double precision:
    ///
    ///     dh_t = dμ/T + dσ·(h_t − μ)/((T − 1)·σ)
    static func meanStdBackward(_ h: Tensor, frames: [Int], pooledGradient dPooled: Tensor) -> Tensor {
        let (batch, t, d) = (h.shape[0], h.shape[1], h.shape[2])
        let dh = Tensor(zeros: h.shape)
        for b in 0..<batch {
            let n = frames[b], x = h.data + b * t * d, out = dh.mutableData + b * t * d, g = dPooled.data + b * 2 * d
            for j in 0..<d {
                var mean = 0.0
                for f in 0..<n { mean += Double(x[f * d + j]) }
                mean /= Double(n)
                var ss = 0.0
                for f in 0..<n {
                    let c = Double(x[f * d + j]) - mean
                    ss += c * c
                }
                let sigma = (ss / Double(n - 1)).squareRoot()
                let dMean = Double(g[j]) / Double(n), dSigma = Double(g[d + j]) / (Double(n - 1) * sigma)
                for f in 0..<n { out[f * d + j] = Float(dMean + dSigma * (Double(x[f * d + j]) - mean)) }
            }
        }
        return dh
    }
}
