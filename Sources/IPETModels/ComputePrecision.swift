/// The arithmetic of a backbone's large `Linear` layers (attention projections, MLP, wav2vec 2.0's feature
/// projection): float32 as stored, or int8 weights with activations quantised per call (`Formats/int8.md`).
/// Everything else — LayerNorm, softmax, GELU, residuals, embeddings, convolutions, heads, packs — is float32 in both.
public enum ComputePrecision: String, CaseIterable, Sendable {
    /// As the weights are stored: float32, or int8 for the layers an int8 file stores in int8.
    case f32
    /// Int8: the float32 weights of those layers are quantised when the model is built (an int8 file is int8 anyway).
    case int8
}
