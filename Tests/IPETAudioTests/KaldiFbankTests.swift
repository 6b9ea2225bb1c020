import Foundation
import IPETAudio
import Testing

/// Properties of the Kaldi fbank pieces that follow from their definitions (no reference files needed).
@Suite struct KaldiFbankTests {
    static let ast = KaldiFbankOptions()

    @Test("defaults are what ASTFeatureExtractor passes to torchaudio: 400/160 samples, 512-point FFT, hanning, 128 mel")
    func astDefaults() {
        let o = Self.ast
        #expect(o.windowSize == 400 && o.windowShift == 160 && o.paddedWindowSize == 512)
        #expect(o.windowType == .hanning && o.numMelBins == 128)
        #expect(o.lowFreq == 20 && o.resolvedHighFreq == 8000)
        #expect(o.preemphasisCoefficient == 0.97 && o.removeDCOffset && o.snipEdges && o.usePower && o.useLogFbank)
        #expect(o.dither == 0)
    }

    @Test("frame count is 1 + (N − 400) / 160 with snip_edges; 10.24 s gives 1022 frames, 10 s gives 998")
    func frameCount() {
        #expect(Self.ast.frameCount(sampleCount: 400) == 1)
        #expect(Self.ast.frameCount(sampleCount: 559) == 1)
        #expect(Self.ast.frameCount(sampleCount: 560) == 2)
        #expect(Self.ast.frameCount(sampleCount: 163_840) == 1022)
        #expect(Self.ast.frameCount(sampleCount: 160_000) == 998)
    }

    @Test("mel bank: 128 × 257, DC column and Nyquist column are zero, every weight in [0, 1]")
    func melBankEdges() {
        let bank = KaldiMelBank(options: Self.ast)
        #expect(bank.numBins == 128 && bank.numColumns == 257 && bank.weights.count == 128 * 257)
        for m in 0..<bank.numBins {
            #expect(bank.weight(bin: m, column: 0) == 0)
            #expect(bank.weight(bin: m, column: 256) == 0)
        }
        #expect(bank.weights.allSatisfy { $0 >= 0 && $0 <= 1 })
    }

    /// The bank replays torchaudio's Float32 arithmetic, which is ~1e-5 off the exact triangles (mel values near
    /// 2000 carry ~1e-4 mel of rounding); 3e-5 bounds that.
    @Test("mel bank: triangle m rises on [left, centre] and falls on [centre, right] in mel (within 3e-5)")
    func melBankFormula() {
        let bank = KaldiMelBank(options: Self.ast)
        let melLow = KaldiMelBank.mel(20), melHigh = KaldiMelBank.mel(8000)
        let delta = (melHigh - melLow) / 129
        for m in [0, 5, 64, 127] {
            let left = melLow + Double(m) * delta
            for k in 0..<256 {
                let melK = KaldiMelBank.mel(31.25 * Double(k))
                let expected = max(0, min((melK - left) / delta, (left + 2 * delta - melK) / delta))
                #expect(abs(Double(bank.weight(bin: m, column: k)) - expected) <= 3e-5)
            }
        }
        // Centre frequencies increase and the last one sits just below Nyquist.
        #expect(zip(bank.centerFrequencies, bank.centerFrequencies.dropFirst()).allSatisfy { $0 < $1 })
        #expect(bank.centerFrequencies.last! < 8000 && bank.centerFrequencies.last! > 7800)
    }

    @Test("mel bank: with 128 bins filter 3 falls between two FFT bins and is all zero (as in torchaudio)")
    func melBankEmptyFilter() {
        let bank = KaldiMelBank(options: Self.ast)
        #expect((0..<257).allSatisfy { bank.weight(bin: 3, column: $0) == 0 })
        #expect(bank.nonZeroColumns[3].isEmpty)
        #expect((0..<128).filter { bank.nonZeroColumns[$0].isEmpty } == [3])
    }

    @Test("mel scale: mel(f) = 1127 ln(1 + f/700) and inverseMel undoes it")
    func melScale() {
        #expect(abs(KaldiMelBank.mel(700) - 1127 * log(2.0)) < 1e-9)
        for f in [0.0, 20, 440, 8000] { #expect(abs(KaldiMelBank.inverseMel(KaldiMelBank.mel(f)) - f) < 1e-9) }
    }

    /// Windows replay torch's Float32 arithmetic, so they are symmetric and exact only to Float32 rounding.
    @Test("hanning window: symmetric, 0 at both ends, 0.5 − 0.5 cos(2πn/399) (all within 1e-6)")
    func hanningWindow() {
        let w = KaldiWindowType.hanning.coefficients(length: 400)
        #expect(w.count == 400 && w[0] == 0 && abs(w[399]) <= 1e-6)
        for n in 0..<200 { #expect(abs(w[n] - w[399 - n]) <= 1e-6) }
        for n in [1, 100, 199, 250] {
            #expect(abs(Double(w[n]) - (0.5 - 0.5 * cos(2 * Double.pi * Double(n) / 399))) <= 1e-6)
        }
    }

    @Test("povey window: (0.5 − 0.5 cos(2πn/(N−1)))^0.85, symmetric (within 1e-6)")
    func poveyWindow() {
        let w = KaldiWindowType.povey.coefficients(length: 400)
        for n in [0, 1, 57, 199, 200, 399] {
            let hann = 0.5 - 0.5 * cos(2 * Double.pi * Double(n) / 399)
            #expect(abs(Double(w[n]) - pow(hann, 0.85)) <= 1e-6)
        }
        for n in 0..<200 { #expect(abs(w[n] - w[399 - n]) <= 1e-6) }
    }

    @Test("hamming 0.54 − 0.46 cos, rectangular 1, blackman 0.42 − 0.5 cos + 0.08 cos 2x")
    func otherWindows() {
        let hamming = KaldiWindowType.hamming.coefficients(length: 400)
        #expect(abs(hamming[0] - 0.08) < 1e-7 && abs(hamming[199] - (0.54 - 0.46 * Float(cos(2 * Double.pi * 199 / 399)))) < 1e-6)
        #expect(KaldiWindowType.rectangular.coefficients(length: 400).allSatisfy { $0 == 1 })
        let blackman = KaldiWindowType.blackman.coefficients(length: 400)
        #expect(abs(blackman[0]) < 1e-6)
        let x = 2 * Double.pi * 100 / 399
        #expect(abs(Double(blackman[100]) - (0.42 - 0.5 * cos(x) + 0.08 * cos(2 * x))) < 1e-6)
    }

    @Test("a 1 kHz tone peaks in the mel filter whose centre is nearest 1 kHz, in every frame")
    func toneMelPeak() throws {
        let fbank = try KaldiFbank()
        let tone = TestSignals.sine(frequency: 1000, amplitude: 0.5, rate: 16000, count: 16000)
        let features = try fbank.compute(tone)
        let centres = fbank.melBank.centerFrequencies
        let nearest = centres.indices.min { abs(centres[$0] - 1000) < abs(centres[$1] - 1000) }!
        for t in 0..<features.rows {
            let row = Array(features.row(t))
            #expect(row.indices.max { row[$0] < row[$1] } == nearest)
        }
    }

    @Test("silence gives ln(ε) = −15.942385 in every bin (all-zero frames hit the log floor)")
    func silenceFloor() throws {
        let features = try KaldiFbank().compute([Float](repeating: 0, count: 4000))
        #expect(features.rows == 23)
        #expect(features.values.allSatisfy { $0 == log(Float.ulpOfOne) })
        #expect(abs(log(Float.ulpOfOne) - (-15.942385)) < 1e-6)
    }

    @Test("a constant (DC) signal is removed per frame before the spectrum")
    func dcRemoved() throws {
        let features = try KaldiFbank().compute([Float](repeating: 0.25, count: 4000))
        #expect(features.values.allSatisfy { $0 == log(Float.ulpOfOne) })
    }

    @Test("threads do not change the result: 1 worker and all cores agree bit for bit")
    func threadIndependent() throws {
        let fbank = try KaldiFbank()
        let x = TestSignals.noise(amplitude: 0.3, count: 48000)
        #expect(try fbank.compute(x, maxThreads: 1) == fbank.compute(x, maxThreads: 8))
    }

    @Test("fewer samples than one window is an error naming both counts")
    func tooShort() throws {
        #expect(throws: KaldiFbankError.tooShort(samples: 399, windowSize: 400)) {
            try KaldiFbank().compute([Float](repeating: 0, count: 399))
        }
        #expect(try KaldiFbank().compute([Float](repeating: 0, count: 400)).rows == 1)
    }

    @Test("options torchaudio rejects are rejected at init")
    func invalidOptions() {
        var dithered = KaldiFbankOptions()
        dithered.dither = 1
        var fewBins = KaldiFbankOptions()
        fewBins.numMelBins = 3
        var highAboveNyquist = KaldiFbankOptions()
        highAboveNyquist.highFreq = 9000
        var oddFFT = KaldiFbankOptions()
        oddFFT.roundToPowerOfTwo = false
        oddFFT.frameLengthMs = 25.0625  // 401 samples, odd FFT length
        for options in [dithered, fewBins, highAboveNyquist, oddFFT] {
            #expect(throws: KaldiFbankError.self) { try KaldiFbank(options: options) }
        }
    }

    @Test("negative high_freq is an offset from Nyquist")
    func highFreqOffset() {
        var o = KaldiFbankOptions()
        o.highFreq = -400
        #expect(o.resolvedHighFreq == 7600)
    }

    @Test("snip_edges false: (N + 80) / 160 centred frames over a mirrored signal")
    func centredFraming() throws {
        var o = KaldiFbankOptions()
        o.snipEdges = false
        let fbank = try KaldiFbank(options: o)
        let x = TestSignals.noise(amplitude: 0.1, count: 1000)
        let features = try fbank.compute(x)
        #expect(features.rows == (1000 + 80) / 160)
        #expect(features.values.allSatisfy { $0.isFinite })
    }

    @Test("subtract_mean leaves every column with mean ~0")
    func subtractMean() throws {
        var o = KaldiFbankOptions()
        o.subtractMean = true
        let features = try KaldiFbank(options: o).compute(TestSignals.noise(amplitude: 0.1, count: 8000))
        for c in 0..<features.columns {
            let mean = (0..<features.rows).reduce(0.0) { $0 + Double(features[$1, c]) } / Double(features.rows)
            #expect(abs(mean) < 1e-5)
        }
    }
}
