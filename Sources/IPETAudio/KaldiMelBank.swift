import Foundation

/// Kaldi's triangular mel filter bank, built like `torchaudio.compliance.kaldi.get_mel_banks` (no VTLN warping),
/// including its Float32 arithmetic.
///
/// - `mel(f) = 1127 · ln(1 + f / 700)`
/// - `Δ = (mel(high) − mel(low)) / (bins + 1)`; filter `m` spans `left = mel(low) + m·Δ`, `centre = mel(low) + (m+1)·Δ`,
///   `right = mel(low) + (m+2)·Δ`
/// - FFT column `k` (of `paddedWindowSize / 2` real columns) sits at `k · sampleFrequency / paddedWindowSize` Hz;
///   `weight[m, k] = max(0, min((mel_k − left) / (centre − left), (right − mel_k) / (right − centre)))`
/// - torchaudio then appends one zero column for the Nyquist bin, so the bank is
///   `bins × (paddedWindowSize / 2 + 1)` and the spectrum's last bin never contributes.
///
/// Why Float32 and not Double: torchaudio evaluates the triangles in Float32 (`mel_low`, `Δ` are Python doubles,
/// everything after them is a float32 tensor), and the differences `mel_k − left` of numbers near 2000 lose
/// about 1e-4 mel, so its weights are off by up to ~1e-5 from the exact ones. With an exact (Double) bank our
/// log-mel missed torchaudio's by up to 1.8e-4 on ordinary bins (log-mel > −8) of the fixtures; replaying the
/// Float32 operations brings that to 1e-5 … 6e-5. (Not to zero: torch's Float32 `log` is Sleef's, which differs
/// from glibc's correctly rounded `logf` by 1 ulp at 21 of the 256 columns, so single weights can still differ
/// by ~2e-5.)
///
/// The DC column is 0 whenever `low > 0` (mel(0) = 0 lies left of every triangle).
public struct KaldiMelBank: Sendable, Equatable {
    public let numBins: Int
    /// `paddedWindowSize / 2 + 1`: one column per rFFT output bin, the last (Nyquist) always zero.
    public let numColumns: Int
    /// Row-major `[numBins × numColumns]`.
    public let weights: [Float]
    /// For each filter, the columns with non-zero weight; the filter's energy is the dot product over them.
    public let nonZeroColumns: [Range<Int>]
    /// Centre frequency of each filter in Hz (`inverse_mel(centre)`).
    public let centerFrequencies: [Double]

    /// Kaldi's mel scale (natural log, HTK constants).
    public static func mel(_ hz: Double) -> Double { 1127.0 * log(1.0 + hz / 700.0) }
    public static func inverseMel(_ mel: Double) -> Double { 700.0 * (exp(mel / 1127.0) - 1.0) }

    /// `highFreq` is already resolved (see `KaldiFbankOptions.resolvedHighFreq`); callers validate the ranges.
    public init(numBins: Int, paddedWindowSize: Int, sampleFrequency: Double, lowFreq: Double, highFreq: Double) {
        let fftColumns = paddedWindowSize / 2
        // Python scalars (double) in torchaudio ...
        let binWidth = sampleFrequency / Double(paddedWindowSize)
        let melLow = Self.mel(lowFreq)
        let melHigh = Self.mel(highFreq)
        let delta = (melHigh - melLow) / Double(numBins + 1)
        // ... which meet float32 tensors and are rounded to Float there.
        let melLow32 = Float(melLow)
        let delta32 = Float(delta)
        let columnMel: [Float] = (0..<fftColumns).map { k in
            let hz = Float(binWidth) * Float(k)
            return Float(1127.0) * log(Float(1.0) + hz / Float(700.0))
        }

        var weights = [Float](repeating: 0, count: numBins * (fftColumns + 1))
        var ranges: [Range<Int>] = []
        var centres: [Double] = []
        for m in 0..<numBins {
            let left = melLow32 + Float(m) * delta32
            let centre = melLow32 + (Float(m) + 1) * delta32
            let right = melLow32 + (Float(m) + 2) * delta32
            centres.append(Self.inverseMel(melLow + Double(m + 1) * delta))
            var first = Int.max
            var last = -1
            for k in 0..<fftColumns {
                let up = (columnMel[k] - left) / (centre - left)
                let down = (right - columnMel[k]) / (right - centre)
                let w = max(0, min(up, down))
                if w > 0 {
                    weights[m * (fftColumns + 1) + k] = w
                    first = min(first, k)
                    last = k
                }
            }
            ranges.append(last >= 0 ? first..<(last + 1) : 0..<0)
        }
        self.numBins = numBins
        self.numColumns = fftColumns + 1
        self.weights = weights
        self.nonZeroColumns = ranges
        self.centerFrequencies = centres
    }

    public init(options: KaldiFbankOptions) {
        self.init(numBins: options.numMelBins, paddedWindowSize: options.paddedWindowSize,
                  sampleFrequency: options.sampleFrequency, lowFreq: options.lowFreq,
                  highFreq: options.resolvedHighFreq)
    }

    public func weight(bin: Int, column: Int) -> Float { weights[bin * numColumns + column] }
}
