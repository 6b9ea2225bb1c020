/// Equal-length waveforms ready for wav2vec 2.0, as `Wav2Vec2FeatureExtractor(..., padding=True)` returns them.
public struct WaveformBatch: Sendable, Equatable {
    /// One row per utterance, all `length` samples long (right-padded).
    public var inputValues: [[Float]]
    /// 1 for real samples, 0 for padding; nil when the config does not return a mask.
    public var attentionMask: [[Int32]]?
    /// Each utterance's own length before padding.
    public var lengths: [Int]

    public var length: Int { inputValues.first?.count ?? 0 }

    public init(inputValues: [[Float]], attentionMask: [[Int32]]?, lengths: [Int]) {
        self.inputValues = inputValues
        self.attentionMask = attentionMask
        self.lengths = lengths
    }
}
