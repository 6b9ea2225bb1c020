/// Options of Kaldi's `compute-fbank-feats`, named as in `torchaudio.compliance.kaldi.fbank`.
///
/// The defaults are what `ASTFeatureExtractor` passes (`docs/model-numerics.md` §A.1): torchaudio's defaults except
/// `window_type="hanning"` and `num_mel_bins=128`. Options that only affect the energy column (`use_energy`,
/// `energy_floor`, `raw_energy`, `htk_compat`) are absent because that column is never produced; VTLN warping is
/// not supported (warp factor 1). `dither` must be 0: random dither would make features non-reproducible.
public struct KaldiFbankOptions: Sendable, Hashable {
    /// Hz.
    public var sampleFrequency: Double = 16000
    /// Window length in milliseconds (25 ms → 400 samples at 16 kHz).
    public var frameLengthMs: Double = 25
    /// Hop in milliseconds (10 ms → 160 samples at 16 kHz).
    public var frameShiftMs: Double = 10
    /// Zero-pad each frame to the next power of two before the FFT (400 → 512).
    public var roundToPowerOfTwo: Bool = true
    /// True: only whole frames, `1 + (N − window) / shift` of them. False: Kaldi's centred framing,
    /// `(N + shift/2) / shift` frames, with the signal mirrored at both ends.
    public var snipEdges: Bool = true
    /// Must be 0.
    public var dither: Double = 0
    /// Subtract each frame's mean before pre-emphasis.
    public var removeDCOffset: Bool = true
    /// `y[j] = x[j] − k·x[j−1]`, `y[0] = x[0] − k·x[0]`; 0 disables.
    public var preemphasisCoefficient: Double = 0.97
    public var windowType: KaldiWindowType = .hanning
    /// Only used by the blackman window.
    public var blackmanCoefficient: Double = 0.42
    public var numMelBins: Int = 128
    /// Lower edge of the first triangle, Hz.
    public var lowFreq: Double = 20
    /// Upper edge of the last triangle, Hz; `<= 0` means an offset from the Nyquist frequency (0 → Nyquist).
    public var highFreq: Double = 0
    /// Natural log of the mel energies, floored at Float32 epsilon first.
    public var useLogFbank: Bool = true
    /// Power spectrum `|X|²` (true) or magnitude `|X|` (false).
    public var usePower: Bool = true
    /// Subtract the per-bin mean over all frames of the utterance (Kaldi `subtract_mean`).
    public var subtractMean: Bool = false

    public init() {}

    /// Samples per window: `int(sample_frequency · frame_length · 0.001)` as torchaudio computes it.
    public var windowSize: Int { Int(sampleFrequency * frameLengthMs * 0.001) }
    /// Samples per hop: `int(sample_frequency · frame_shift · 0.001)`.
    public var windowShift: Int { Int(sampleFrequency * frameShiftMs * 0.001) }
    /// FFT length: the window size, or the next power of two when `roundToPowerOfTwo`.
    public var paddedWindowSize: Int {
        guard roundToPowerOfTwo, windowSize > 1 else { return windowSize }
        return 1 << (Int.bitWidth - (windowSize - 1).leadingZeroBitCount)
    }
    /// The effective upper mel edge in Hz (`highFreq` resolved against Nyquist).
    public var resolvedHighFreq: Double { highFreq <= 0 ? highFreq + 0.5 * sampleFrequency : highFreq }

    /// Frames produced for `sampleCount` samples (callers must first check `sampleCount >= windowSize`).
    public func frameCount(sampleCount: Int) -> Int {
        if snipEdges {
            return sampleCount < windowSize ? 0 : 1 + (sampleCount - windowSize) / windowShift
        }
        return (sampleCount + windowShift / 2) / windowShift
    }

    /// Checks the constraints torchaudio asserts, so misconfiguration fails before any audio is touched.
    public func validate() throws(KaldiFbankError) {
        func bad(_ reason: String) -> KaldiFbankError { .invalidOptions(reason) }
        guard sampleFrequency.isFinite, sampleFrequency > 0 else { throw bad("sample frequency must be positive") }
        guard dither == 0 else { throw bad("dither must be 0 (random dither makes features non-reproducible)") }
        guard windowSize >= 2 else { throw bad("frame length gives a window of \(windowSize) samples (need >= 2)") }
        guard windowShift >= 1 else { throw bad("frame shift gives a hop of \(windowShift) samples (need >= 1)") }
        guard paddedWindowSize % 2 == 0 else {
            throw bad("FFT length \(paddedWindowSize) must be even (use roundToPowerOfTwo or an even window)")
        }
        guard numMelBins > 3 else { throw bad("need more than 3 mel bins, got \(numMelBins)") }
        let nyquist = 0.5 * sampleFrequency
        let high = resolvedHighFreq
        guard lowFreq >= 0, lowFreq < nyquist, high > 0, high <= nyquist, lowFreq < high else {
            throw bad("bad mel range: low \(lowFreq) Hz, high \(high) Hz, Nyquist \(nyquist) Hz")
        }
        guard preemphasisCoefficient.isFinite else { throw bad("pre-emphasis coefficient must be finite") }
    }
}
