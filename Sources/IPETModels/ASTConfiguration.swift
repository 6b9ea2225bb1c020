import IPETFormats
import IPETTensor

/// Configuration of an Audio Spectrogram Transformer, read from the checkpoint's `config.json`
/// (`ASTConfig` in transformers; defaults are its defaults).
public struct ASTConfiguration: Sendable, Equatable {
    public var hiddenSize: Int
    public var layers: Int
    public var heads: Int
    public var intermediateSize: Int
    public var layerNormEps: Float
    public var patchSize: Int
    public var frequencyStride: Int
    public var timeStride: Int
    /// Input frames (time axis of the spectrogram) the position embeddings were made for.
    public var maxLength: Int
    public var melBins: Int
    public var qkvBias: Bool
    /// Label names of the classification head (empty for a bare backbone).
    public var labels: [String]

    public init(config: JSONValue, source: String) throws(ModelError) {
        hiddenSize = try configInt(config, "hidden_size", default: 768, source: source)
        layers = try configInt(config, "num_hidden_layers", default: 12, source: source)
        heads = try configInt(config, "num_attention_heads", default: 12, source: source)
        intermediateSize = try configInt(config, "intermediate_size", default: 3072, source: source)
        layerNormEps = Float(try configDouble(config, "layer_norm_eps", default: 1e-12, source: source))
        patchSize = try configInt(config, "patch_size", default: 16, source: source)
        frequencyStride = try configInt(config, "frequency_stride", default: 10, source: source)
        timeStride = try configInt(config, "time_stride", default: 10, source: source)
        maxLength = try configInt(config, "max_length", default: 1024, source: source)
        melBins = try configInt(config, "num_mel_bins", default: 128, source: source)
        qkvBias = try configBool(config, "qkv_bias", default: true, source: source)
        let act = config["hidden_act"]?.string ?? "gelu"
        guard act == "gelu" else { throw ModelError(source, "hidden_act \"\(act)\" is not supported (only \"gelu\")") }
        guard hiddenSize > 0, heads > 0, hiddenSize % heads == 0 else {
            throw ModelError(source, "hidden_size \(hiddenSize) is not divisible by num_attention_heads \(heads)")
        }
        guard maxLength <= 65_536, melBins <= 1024, hiddenSize <= ModelLimits.hiddenSize, (1...ModelLimits.layers).contains(layers),
            (1...ModelLimits.intermediateSize).contains(intermediateSize)
        else {
            throw ModelError(source, "sizes out of range: max_length \(maxLength) (≤ 65536), num_mel_bins \(melBins) (≤ 1024), "
                             + "hidden_size \(hiddenSize), num_hidden_layers \(layers), intermediate_size \(intermediateSize)")
        }
        guard patchSize > 0, frequencyStride > 0, timeStride > 0, melBins >= patchSize, maxLength >= patchSize else {
            throw ModelError(source, "patch_size \(patchSize) does not fit num_mel_bins \(melBins) × max_length \(maxLength)")
        }
        labels = try configLabels(config, source: source)
    }

    /// Patch rows along frequency: `(F − P) / stride_f + 1`.
    public var frequencyPatches: Int { (melBins - patchSize) / frequencyStride + 1 }
    /// Patch columns along time for `frames` input frames: `(T − P) / stride_t + 1`.
    public func timePatches(frames: Int) -> Int { (frames - patchSize) / timeStride + 1 }
    /// Tokens for `frames` input frames: CLS, distillation token and the patches.
    public func tokens(frames: Int) -> Int { 2 + frequencyPatches * timePatches(frames: frames) }
}
