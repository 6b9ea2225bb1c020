import IPETFormats

extension WaveformNormalizer {
    /// The settings of transformers' `Wav2Vec2FeatureExtractor`, read from a `preprocessor_config.json`.
    ///
    /// Defaults are the `__init__` defaults (facebook/wav2vec2-base): 16 kHz, mono, normalise, pad with 0.0,
    /// no attention mask.
    public struct Configuration: Sendable, Equatable {
        /// Hz; audio at any other rate is refused (transformers raises), never resampled here.
        public var samplingRate: Int = 16000
        /// Zero-mean, unit-variance normalisation per utterance.
        public var doNormalize: Bool = true
        /// Value written into padded tails of a batch.
        public var paddingValue: Float = 0
        /// Whether batches carry an attention mask; when they do, statistics use only each utterance's own
        /// samples.
        public var returnAttentionMask: Bool = false

        public static let featureExtractorTypes = ["Wav2Vec2FeatureExtractor"]

        public init() {}

        /// Reads `sampling_rate`, `do_normalize`, `padding_value`, `return_attention_mask` (absent or null → the
        /// default above), and checks that `feature_size` (if given) is 1 and `feature_extractor_type` (if
        /// given) is `Wav2Vec2FeatureExtractor`.
        public init(preprocessorConfig json: JSONValue) throws(PreprocessorConfigError) {
            let reader = try PreprocessorConfigReader(json)
            try reader.requireType(Self.featureExtractorTypes)
            guard try reader.int("feature_size", default: 1) == 1 else {
                throw PreprocessorConfigError(key: "feature_size", reason: "must be 1 (mono waveform)")
            }
            samplingRate = try reader.int("sampling_rate", default: samplingRate)
            doNormalize = try reader.bool("do_normalize", default: doNormalize)
            paddingValue = Float(try reader.double("padding_value", default: Double(paddingValue)))
            returnAttentionMask = try reader.bool("return_attention_mask", default: returnAttentionMask)
            guard (1000...384_000).contains(samplingRate) else {
                throw PreprocessorConfigError(key: "sampling_rate", reason: "must be from 1000 to 384000 Hz")
            }
        }

        /// Reads the `preprocessor_config.json` at `path`; errors name the file.
        public init(contentsOf path: String) throws(PreprocessorConfigError) {
            self = try PreprocessorConfigReader.load(path) { json throws(PreprocessorConfigError) in
                try Configuration(preprocessorConfig: json)
            }
        }
    }
}
