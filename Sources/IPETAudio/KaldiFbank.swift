import CFFTW
import Dispatch
import Foundation

/// Kaldi log-mel filter-bank features as `torchaudio.compliance.kaldi.fbank` computes them (kaldi.py of
/// torchaudio 2.5 … 2.11, which `ASTFeatureExtractor` calls), agreeing with it to Float32 rounding.
///
/// For frame `t` (samples `[t·shift, t·shift + window)` with `snipEdges`), in Float32:
/// 1. `x ← x − mean(x)` (remove DC offset),
/// 2. `y[j] = x[j] − k·x[j−1]`, `y[0] = x[0] − k·x[0]` (pre-emphasis, k = 0.97),
/// 3. `y ← y · w` (window), zero-padded to `paddedWindowSize`,
/// 4. `P[i] = |rFFT(y)[i]|²` (or `|·|` without `usePower`), i = 0 … padded/2,
/// 5. `E[m] = Σ_i P[i] · bank[m, i]`, then `ln(max(E[m], ε))` with ε = Float32 epsilon 1.1920929e-07.
///
/// The window and the mel bank replay torch's Float32 arithmetic (see `KaldiWindowType`, `KaldiMelBank`), which
/// brings ordinary log-mel values to ~1e-5 of torchaudio's. Bins whose energy is near the floor (~1e-7 … 1e-5
/// beside loud components) are dominated by Float32 FFT rounding in torchaudio and here alike; there the two
/// differ by up to a few 1e-3, as torchaudio differs from an exact (Float64) computation.
///
/// Speed: one FFTW plan per instance (made at init under the planner lock), all scratch memory allocated once per
/// worker per call (never per frame), the mel product restricted to each triangle's non-zero columns, a
/// vectorised log (`VectorLog`), and frames split over the cores with `concurrentPerform` once each worker gets
/// at least 64 of them. About 1.1 M frames/s on one Zen 3 core, 2.1 M on two (AST's 1024-frame clip: ~0.5 ms).
/// An instance is immutable and can be shared by any number of threads.
public final class KaldiFbank: @unchecked Sendable {
    public let options: KaldiFbankOptions
    public let melBank: KaldiMelBank
    /// The analysis window, `options.windowSize` coefficients.
    public let window: [Float]
    private let plan: FFTWRealForwardPlan

    /// Float32 machine epsilon, the floor torchaudio applies before the log.
    public static let logFloor: Float = Float.ulpOfOne

    /// Below this many frames per worker, threads cost more than they save.
    static let minimumFramesPerWorker = 64

    public init(options: KaldiFbankOptions = KaldiFbankOptions()) throws(KaldiFbankError) {
        try options.validate()
        self.options = options
        self.melBank = KaldiMelBank(options: options)
        self.window = options.windowType.coefficients(length: options.windowSize,
                                                      blackmanCoefficient: options.blackmanCoefficient)
        self.plan = FFTWRealForwardPlan(size: options.paddedWindowSize)
    }

    private static let cacheLock = NSLock()
    nonisolated(unsafe) private static var cache: [KaldiFbankOptions: KaldiFbank] = [:]

    /// A process-wide instance for `options`, created on first use: callers that build a feature extractor
    /// per request do not pay for planning and the mel bank each time. At most a handful of option sets exist
    /// in a process, so the cache is never pruned.
    public static func shared(options: KaldiFbankOptions) throws(KaldiFbankError) -> KaldiFbank {
        cacheLock.lock()
        defer { cacheLock.unlock() }
        if let existing = cache[options] { return existing }
        let created = try KaldiFbank(options: options)
        cache[options] = created
        return created
    }

    /// Features of `samples` (mono, at `options.sampleFrequency`): `[frames × numMelBins]`.
    /// - Parameter maxThreads: upper bound on worker threads; nil = one per active core.
    public func compute(_ samples: [Float], maxThreads: Int? = nil) throws(KaldiFbankError) -> FeatureMatrix {
        let windowSize = options.windowSize
        guard samples.count >= windowSize else { throw .tooShort(samples: samples.count, windowSize: windowSize) }
        let frames = options.frameCount(sampleCount: samples.count)
        let bins = options.numMelBins
        var output = [Float](repeating: 0, count: frames * bins)

        // Kaldi's centred framing reads a mirrored extension of the signal; snipped framing reads it in place.
        let signal = options.snipEdges ? samples : Self.mirrorExtended(samples, options: options)

        let cores = maxThreads ?? ProcessInfo.processInfo.activeProcessorCount
        let workers = max(1, min(cores, frames / Self.minimumFramesPerWorker))
        signal.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                if workers == 1 {
                    computeFrames(0..<frames, signal: input, output: out)
                    return
                }
                let inputBox = UncheckedSendableBox(input)
                let outputBox = UncheckedSendableBox(out)
                DispatchQueue.concurrentPerform(iterations: workers) { worker in
                    let begin = frames * worker / workers
                    let end = frames * (worker + 1) / workers
                    self.computeFrames(begin..<end, signal: inputBox.value, output: outputBox.value)
                }
            }
        }

        var matrix = FeatureMatrix(rows: frames, columns: bins, values: output)
        if options.subtractMean { Self.subtractColumnMeans(&matrix) }
        return matrix
    }

    /// Checks the rate, then computes (the AST and CLI entry point: refuse, never silently mis-scale, audio
    /// at another rate).
    public func compute(_ samples: [Float], sampleRate: Int, maxThreads: Int? = nil) throws(KaldiFbankError)
        -> FeatureMatrix
    {
        guard Double(sampleRate) == options.sampleFrequency else {
            throw .sampleRateMismatch(expected: Int(options.sampleFrequency), actual: sampleRate)
        }
        return try compute(samples, maxThreads: maxThreads)
    }

    /// Runs steps 1–5 for `frames`, writing rows of `output`. Frame t starts at sample `t · windowShift`.
    private func computeFrames(_ frames: Range<Int>, signal: UnsafeBufferPointer<Float>,
                               output: UnsafeMutableBufferPointer<Float>)
    {
        if frames.isEmpty { return }
        let windowSize = options.windowSize
        let shift = options.windowShift
        let columns = melBank.numColumns
        let bins = options.numMelBins
        let preemphasis = Float(options.preemphasisCoefficient)
        let removeDC = options.removeDCOffset
        let usePower = options.usePower
        let useLog = options.useLogFbank
        let floor = Self.logFloor
        let count = Float(windowSize)

        let fftInput = FFTWRealBuffer(count: plan.size)  // tail beyond windowSize stays zero
        let spectrum = FFTWComplexBuffer(count: columns)
        var power = [Float](repeating: 0, count: columns)
        // Each triangle's support as (first, end) column pairs, read once per bin per frame.
        var support = [Int](repeating: 0, count: 2 * bins)
        for m in 0..<bins {
            support[2 * m] = melBank.nonZeroColumns[m].lowerBound
            support[2 * m + 1] = melBank.nonZeroColumns[m].upperBound
        }

        window.withUnsafeBufferPointer { w in
            melBank.weights.withUnsafeBufferPointer { bank in
                power.withUnsafeMutableBufferPointer { p in
                    support.withUnsafeBufferPointer { ranges in
                        let y = fftInput.pointer
                        let s = spectrum.pointer
                        for t in frames {
                            let frame = signal.baseAddress! + t * shift
                            // 1. DC offset: Float32 mean as torch.mean computes it (8 partial sums).
                            let mean = removeDC ? Self.sum(frame, windowSize) / count : 0
                            // 2 + 3. Pre-emphasis of the DC-free frame (each sample minus k × its DC-free
                            // predecessor, the first one minus k × itself), then the window. The DC-free values
                            // are recomputed rather than stored: the same Float operations, one pass.
                            let first = frame[0] - mean
                            y[0] = (first - preemphasis * first) * w[0]
                            for j in 1..<windowSize {
                                y[j] = ((frame[j] - mean) - preemphasis * (frame[j - 1] - mean)) * w[j]
                            }
                            // 4. Power (or magnitude) spectrum.
                            plan.execute(fftInput, spectrum)
                            for i in 0..<columns {
                                let re = s[i].0
                                let im = s[i].1
                                p[i] = re * re + im * im
                            }
                            if !usePower { for i in 0..<columns { p[i] = p[i].squareRoot() } }
                            // 5. Mel energies over each triangle's support, then the floored log.
                            let row = output.baseAddress! + t * bins
                            for m in 0..<bins {
                                let weights = bank.baseAddress! + m * columns
                                var energy: Float = 0
                                var i = ranges[2 * m]
                                let end = ranges[2 * m + 1]
                                while i < end {
                                    energy += weights[i] * p[i]
                                    i += 1
                                }
                                row[m] = energy
                            }
                            if useLog { VectorLog.flooredLog(row, count: bins, floor: floor) }
                        }
                    }
                }
            }
        }
        withExtendedLifetime((fftInput, spectrum)) {}
    }

    /// Σ x[0..<n] with eight independent Float32 accumulators.
    @inline(__always)
    private static func sum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>()
        var j = 0
        while j + 8 <= n {
            acc += UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self)
            j += 8
        }
        var total = acc.sum()
        while j < n {
            total += x[j]
            j += 1
        }
        return total
    }

    /// Kaldi's `snip_edges=False` signal: `[x[pad−1] … x[0]] + x + reversed(x)`, pad = window/2 − shift/2
    /// (a negative pad drops `−pad` leading samples instead), so frame t starts at `t · shift` of this array.
    static func mirrorExtended(_ x: [Float], options: KaldiFbankOptions) -> [Float] {
        let pad = options.windowSize / 2 - options.windowShift / 2
        let reversed = Array(x.reversed())
        if pad > 0 { return Array(x[0..<min(pad, x.count)].reversed()) + x + reversed }
        return Array(x[min(-pad, x.count)...]) + reversed
    }

    /// Kaldi `subtract_mean`: each column minus its mean over frames (mean accumulated in Double).
    static func subtractColumnMeans(_ matrix: inout FeatureMatrix) {
        guard matrix.rows > 0 else { return }
        for c in 0..<matrix.columns {
            var total = 0.0
            for r in 0..<matrix.rows { total += Double(matrix[r, c]) }
            let mean = Float(total / Double(matrix.rows))
            for r in 0..<matrix.rows { matrix[r, c] -= mean }
        }
    }
}
