import IPETTensor

/// Which fixed-size vector a backbone without a pack gives per clip (`ipet embed` without a speaker pack).
public enum BackboneEmbedding: Sendable, Equatable {
    /// x-vectors for x-vector checkpoints; otherwise the mean over time of the last hidden state (AST: the pooled
    /// CLS/distillation output, which is what its head reads).
    case automatic
    /// Mean over time (tokens or frames) of `hidden_states[n]`: 0 is the encoder input, `n` the output of layer n.
    case layer(Int)
    /// What the checkpoint's head pools: AST `(CLS + DIST)/2`; wav2vec 2.0 sequence classification the mean of
    /// the projected frames; x-vector the embedding; a bare wav2vec 2.0 the mean of the last hidden state.
    case pooled

    /// The hidden-state index asked for, if any.
    public var layer: Int? {
        if case let .layer(n) = self { return n }
        return nil
    }

    /// One embedding per input of an AST forward (run with `outputHiddenStates` when `layer` is set).
    public func callAsFunction(_ output: AudioSpectrogramTransformer.Output) -> [HeadOutput] {
        if let layer { return Self.meanOverTime(output.hiddenStates[layer], frames: nil) }
        return HeadOutput.rows(embeddings: output.pooled)
    }

    /// One embedding per input of a wav2vec 2.0 forward; `head` is the checkpoint's own (run with
    /// `outputHiddenStates` when `layer` is set or the head needs them).
    public func callAsFunction(_ output: Wav2Vec2Model.Output, head: Wav2Vec2Head?, workspace: Workspace = Workspace())
        throws(ModelError) -> [HeadOutput]
    {
        if let layer { return Self.meanOverTime(output.hiddenStates[layer], frames: output.frames) }
        switch (self, head) {
        case (_, .xvector(let h)?):
            return HeadOutput.rows(embeddings: try h(output, workspace: workspace).embeddings)
        case (.pooled, .sequenceClassification(let h)?):
            return HeadOutput.rows(embeddings: h.pooledProjection(output))
        default:
            return Self.meanOverTime(output.lastHiddenState, frames: output.frames)
        }
    }

    /// Mean over the time axis of `[batch, T, D]`, over each item's first `frames[b]` rows (all when nil), in
    /// double precision.
    static func meanOverTime(_ t: Tensor, frames: [Int]?) -> [HeadOutput] {
        let (batch, length, d) = (t.shape[0], t.shape[1], t.shape[2])
        return (0..<batch).map { b in
            let n = frames?[b] ?? length
            var sum = [Double](repeating: 0, count: d)
            let x = t.data + b * length * d
            for i in 0..<n { for j in 0..<d { sum[j] += Double(x[i * d + j]) } }
            return HeadOutput(embedding: sum.map { Float($0 / Double(n)) })
        }
    }
}
