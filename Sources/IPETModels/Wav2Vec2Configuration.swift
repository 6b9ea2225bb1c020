import IPETFormats
import IPETTensor

/// Configuration of a wav2vec 2.0 model, read from `config.json` (`Wav2Vec2Config`; defaults are its defaults,
/// i.e. facebook/wav2vec2-base).
public struct Wav2Vec2Configuration: Sendable, Equatable {
    public enum FeatureNorm: String, Sendable { case group, layer }

    public var hiddenSize: Int
    public var layers: Int
    public var heads: Int
    public var intermediateSize: Int
    public var layerNormEps: Float
    public var featureNorm: FeatureNorm
    public var convDim: [Int]
    public var convKernel: [Int]
    public var convStride: [Int]
    public var convBias: Bool
    public var positionKernel: Int
    public var positionGroups: Int
    /// Pre-LN encoder ("stable layer norm", large/LV-60 models) instead of post-LN (base).
    public var stableLayerNorm: Bool
    public var classifierProjectionSize: Int
    public var useWeightedLayerSum: Bool
    public var tdnnDim: [Int]
    public var tdnnKernel: [Int]
    public var tdnnDilation: [Int]
    public var xvectorOutputDim: Int
    public var labels: [String]

    public init(config: JSONValue, source: String) throws(ModelError) {
        hiddenSize = try configInt(config, "hidden_size", default: 768, source: source)
        layers = try configInt(config, "num_hidden_layers", default: 12, source: source)
        heads = try configInt(config, "num_attention_heads", default: 12, source: source)
        intermediateSize = try configInt(config, "intermediate_size", default: 3072, source: source)
        layerNormEps = Float(try configDouble(config, "layer_norm_eps", default: 1e-5, source: source))
        let norm = config["feat_extract_norm"]?.string ?? "group"
        guard let featureNorm = FeatureNorm(rawValue: norm) else {
            throw ModelError(source, "feat_extract_norm \"\(norm)\" is not \"group\" or \"layer\"")
        }
        self.featureNorm = featureNorm
        convDim = try configIntList(config, "conv_dim", default: [512, 512, 512, 512, 512, 512, 512], source: source)
        convKernel = try configIntList(config, "conv_kernel", default: [10, 3, 3, 3, 3, 2, 2], source: source)
        convStride = try configIntList(config, "conv_stride", default: [5, 2, 2, 2, 2, 2, 2], source: source)
        convBias = try configBool(config, "conv_bias", default: false, source: source)
        positionKernel = try configInt(config, "num_conv_pos_embeddings", default: 128, source: source)
        positionGroups = try configInt(config, "num_conv_pos_embedding_groups", default: 16, source: source)
        stableLayerNorm = try configBool(config, "do_stable_layer_norm", default: false, source: source)
        classifierProjectionSize = try configInt(config, "classifier_proj_size", default: 256, source: source)
        useWeightedLayerSum = try configBool(config, "use_weighted_layer_sum", default: false, source: source)
        tdnnDim = try configIntList(config, "tdnn_dim", default: [512, 512, 512, 512, 1500], source: source)
        tdnnKernel = try configIntList(config, "tdnn_kernel", default: [5, 3, 3, 1, 1], source: source)
        tdnnDilation = try configIntList(config, "tdnn_dilation", default: [1, 2, 3, 1, 1], source: source)
        xvectorOutputDim = try configInt(config, "xvector_output_dim", default: 512, source: source)
        // Options that change transformers' eval forward but that we do not implement: refuse rather than run a
        // different model. add_adapter: a strided conv adapter after the encoder (speech encoder-decoder models);
        // adapter_attn_dim: MMS per-language adapters inside every encoder layer.
        if try configBool(config, "add_adapter", default: false, source: source) {
            throw ModelError(source, "add_adapter is true (a downsampling adapter after the encoder, used by speech "
                             + "encoder-decoder models): not supported")
        }
        if let dim = config["adapter_attn_dim"], dim != .null {
            throw ModelError(source, "adapter_attn_dim is set (MMS per-language attention adapters in every layer): not supported")
        }
        for key in ["hidden_act", "feat_extract_activation"] {
            let act = config[key]?.string ?? "gelu"
            guard act == "gelu" else { throw ModelError(source, "\(key) \"\(act)\" is not supported (only \"gelu\")") }
        }
        guard !convDim.isEmpty, convDim.count == convKernel.count, convDim.count == convStride.count,
            convKernel.allSatisfy({ $0 > 0 }), convStride.allSatisfy({ $0 > 0 })
        else { throw ModelError(source, "conv_dim, conv_kernel and conv_stride must be non-empty lists of equal length") }
        guard hiddenSize > 0, heads > 0, hiddenSize % heads == 0 else {
            throw ModelError(source, "hidden_size \(hiddenSize) is not divisible by num_attention_heads \(heads)")
        }
        guard positionGroups > 0, hiddenSize % positionGroups == 0, positionKernel > 0 else {
            throw ModelError(source, "hidden_size \(hiddenSize) is not divisible by num_conv_pos_embedding_groups \(positionGroups)")
        }
        guard tdnnDim.count == tdnnKernel.count, tdnnDim.count == tdnnDilation.count else {
            throw ModelError(source, "tdnn_dim, tdnn_kernel and tdnn_dilation must have equal length")
        }
        // Bounds before anything is built from these numbers: the model and heads loop and allocate by them, and
        // the frame arithmetic (receptive field, hop, `maximumSamples`) multiplies them.
        try configBound("hidden_size", hiddenSize, 1...ModelLimits.hiddenSize, source: source)
        try configBound("num_hidden_layers", layers, 1...ModelLimits.layers, source: source)
        try configBound("intermediate_size", intermediateSize, 1...ModelLimits.intermediateSize, source: source)
        try configBound("num_conv_pos_embeddings", positionKernel, 1...ModelLimits.kernel, source: source)
        try configBound("classifier_proj_size", classifierProjectionSize, 1...ModelLimits.hiddenSize, source: source)
        try configBound("xvector_output_dim", xvectorOutputDim, 1...ModelLimits.hiddenSize, source: source)
        for (key, list, range) in [
            ("conv_dim", convDim, 1...ModelLimits.hiddenSize), ("conv_kernel", convKernel, 1...ModelLimits.kernel),
            ("conv_stride", convStride, 1...ModelLimits.kernel), ("tdnn_dim", tdnnDim, 1...ModelLimits.hiddenSize),
            ("tdnn_kernel", tdnnKernel, 1...ModelLimits.kernel), ("tdnn_dilation", tdnnDilation, 1...ModelLimits.kernel),
        ] {
            try configBound("\(key) length", list.count, 1...ModelLimits.stackDepth, source: source)
            for v in list { try configBound(key, v, range, source: source) }
        }
        // The longest input one pass takes, (maximumFrames − 1) · hop + receptive field, must be a number.
        var field = 1, hop = 1, overflow = false
        for (k, s) in zip(convKernel, convStride).reversed() {
            let (scaled, o1) = (field - 1).multipliedReportingOverflow(by: s)
            let (sum, o2) = scaled.addingReportingOverflow(k)
            let (h, o3) = hop.multipliedReportingOverflow(by: s)
            (field, hop, overflow) = (sum, h, overflow || o1 || o2 || o3)
        }
        let (span, o4) = (Wav2Vec2Model.maximumFrames - 1).multipliedReportingOverflow(by: hop)
        guard !overflow, !o4, !span.addingReportingOverflow(field).overflow else {
            throw ModelError(source, "conv_kernel \(convKernel) and conv_stride \(convStride) give a receptive field or hop beyond any input")
        }
        labels = try configLabels(config, source: source)
    }

    /// Frames the conv feature encoder makes from `samples` samples: `L ← ⌊(L − k)/s⌋ + 1` per layer (0 when the
    /// input is shorter than the receptive field).
    public func frames(samples: Int) -> Int {
        var length = samples
        for (k, s) in zip(convKernel, convStride) {
            guard length >= k else { return 0 }
            length = (length - k) / s + 1
        }
        return length
    }

    /// Smallest input that yields one frame (400 samples for the base stack).
    public var receptiveField: Int {
        var field = 1
        for (k, s) in zip(convKernel, convStride).reversed() { field = (field - 1) * s + k }
        return field
    }

    /// Largest input one forward pass takes: `Wav2Vec2Model.maximumFrames` frames (5 min at 16 kHz for the
    /// base stack's 320× downsampling).
    public var maximumSamples: Int {
        (Wav2Vec2Model.maximumFrames - 1) * convStride.reduce(1, *) + receptiveField
    }
}
