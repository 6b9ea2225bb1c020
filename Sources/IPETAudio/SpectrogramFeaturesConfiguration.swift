import IPETFormats

extension SpectrogramFeatures {
    /// The settings of transformers' `ASTFeatureExtractor`, read from a `preprocessor_config.json`.
    ///
    /// Defaults are the `__init__` defaults (also what `MIT/ast-finetuned-audioset-10-10-0.4593` ships):
    /// 16 kHz, 128 mel bins, 1024 frames, normalise with the AudioSet mean −4.2677393 and std 4.5689974.
    public struct Configuration: Sendable, Equatable {
        /// Hz; audio at any other rate must be resampled first (transformers raises on a mismatch).
        public var samplingRate: Int = 16000
        /// `num_mel_bins`.
        public var melBins: Int = 128
        /// Frames after padding/truncation (the model's position-embedding length).
        public var maxLength: Int = 1024
        public var doNormalize: Bool = true
        public var mean: Double = -4.2677393
        public var std: Double = 4.5689974
        /// Parsed for completeness, but, as in transformers, padding rows are always 0.0 (`torch.nn.ZeroPad2d`).
        public var paddingValue: Double = 0
        public var returnAttentionMask: Bool = false

        public static let featureExtractorTypes = ["ASTFeatureExtractor"]

        public init() {}

        /// Reads the keys `sampling_rate`, `num_mel_bins`, `max_length`, `do_normalize`, `mean`, `std`,
        /// `padding_value`, `return_attention_mask` (absent or null → the default above); other keys
        /// (`feature_size`, `processor_class`) are ignored. `feature_extractor_type`, when present, must be
        /// `ASTFeatureExtractor`.
        public init(preprocessorConfig json: JSONValue) throws(PreprocessorConfigError) {
            let reader = try PreprocessorConfigReader(json)
            try reader.requireType(Self.featureExtractorTypes)
            samplingRate = try reader.int("sampling_rate", default: samplingRate)
            melBins = try reader.int("num_mel_bins", default: melBins)
            maxLength = try reader.int("max_length", default: maxLength)
            doNormalize = try reader.bool("do_normalize", default: doNormalize)
            mean = try reader.double("mean", default: mean)
            std = try reader.double("std", default: std)
            paddingValue = try reader.double("padding_value", default: paddingValue)
            returnAttentionMask = try reader.bool("return_attention_mask", default: returnAttentionMask)
            try validate()
        }

        /// Reads the `preprocessor_config.json` at `path`; errors name the file.
        public init(contentsOf path: String) throws(PreprocessorConfigError) {
            self = try PreprocessorConfigReader.load(path) { json throws(PreprocessorConfigError) in
                try Configuration(preprocessorConfig: json)
            }
        }

        public func validate() throws(PreprocessorConfigError) {
            guard (1000...384_000).contains(samplingRate) else {
                throw PreprocessorConfigError(key: "sampling_rate", reason: "must be from 1000 to 384000 Hz")
            }
            guard (4...1024).contains(melBins) else { throw PreprocessorConfigError(key: "num_mel_bins", reason: "must be from 4 to 1024") }
            guard (1...65_536).contains(maxLength) else { throw PreprocessorConfigError(key: "max_length", reason: "must be from 1 to 65536") }
            guard std != 0 || !doNormalize else { throw PreprocessorConfigError(key: "std", reason: "must not be 0") }
        }

        /// The torchaudio call transformers makes: `fbank(x, sample_frequency=sampling_rate,
        /// window_type="hanning", num_mel_bins=num_mel_bins)`, every other option at the Kaldi default.
        public var fbankOptions: KaldiFbankOptions {
            var options = KaldiFbankOptions()
            options.sampleFrequency = Double(samplingRate)
            options.windowType = .hanning
            options.numMelBins = melBins
            return options
        }
    }
}
