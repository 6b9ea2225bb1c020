/// Mono Float32 audio at the rate it was stored at, as `AudioDecoder` returns it.
public struct DecodedAudio: Sendable, Equatable {
    /// Samples in [-1, 1] for integer PCM (libsndfile scales 16-bit PCM by 1/32768); float files as stored.
    public var samples: [Float]
    /// The file's native sample rate in Hz; nothing is resampled.
    public var sampleRate: Int
    /// How many channels the file had before they were averaged to mono.
    public var sourceChannels: Int

    public init(samples: [Float], sampleRate: Int, sourceChannels: Int) {
        self.samples = samples
        self.sampleRate = sampleRate
        self.sourceChannels = sourceChannels
    }

    /// Duration in seconds.
    public var duration: Double { sampleRate > 0 ? Double(samples.count) / Double(sampleRate) : 0 }
}
