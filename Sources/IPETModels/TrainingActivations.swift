import IPETTensor

/// What a training forward keeps for its backward pass: the input of every layer (the backward recomputes one layer
/// at a time from it, so memory holds one layer's intermediate values, not twelve) and the last layer's output.
struct TrainingActivations {
    /// `[batch, tokens, hidden]` per layer, without prompts.
    var inputs: [Tensor]
    /// The last layer's output `[batch, tokens, hidden]`, before any final LayerNorm.
    var output: Tensor
    /// Keys each item's attention may see (nil: all).
    var keyLengths: [Int]?

    var batch: Int { output.shape[0] }
    var tokens: Int { output.shape[1] }
}
