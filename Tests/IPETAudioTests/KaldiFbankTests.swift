import Foundation
import IPETAudio
import XCTest

/// Properties of the Kaldi fbank pieces that follow from their definitions (no reference files needed).
final class KaldiFbankTests: XCTestCase {
    static let ast = KaldiFbankOptions()

    /// Defaults are what ASTFeatureExtractor passes to torchaudio: 400/160 samples, 512-point FFT, hanning, 128 mel.
    func testASTDefaults() {
        let o = Self.ast
        XCTAssertEqual(o.windowSize, 400)
        XCTAssertEqual(o.windowShift, 160)
        XCTAssertEqual(o.paddedWindowSize, 512)
        XCTAssertEqual(o.windowType, .hanning)
        XCTAssertEqual(o.numMelBins, 128)
        XCTAssertEqual(o.lowFreq, 20)
        XCTAssertEqual(o.resolvedHighFreq, 8000)
        XCTAssertEqual(o.preemphasisCoefficient, 0.97)
        XCTAssertTrue(o.removeDCOffset)
        XCTAssertTrue(o.snipEdges)
        XCTAssertTrue(o.usePower)
        XCTAssertTrue(o.useLogFbank)
        XCTAssertEqual(o.dither, 0)
    }

    /// Frame count is 1 + (N − 400) / 160 with snip_edges; 10.24 s gives 1022 frames, 10 s gives 998.
    func testFrameCount() {
        XCTAssertEqual(Self.ast.frameCount(sampleCount: 400), 1)
        XCTAssertEqual(Self.ast.frameCount(sampleCount: 559), 1)
        XCTAssertEqual(Self.ast.frameCount(sampleCount: 560), 2)
        XCTAssertEqual(Self.ast.frameCount(sampleCount: 163_840), 1022)
        XCTAssertEqual(Self.ast.frameCount(sampleCount: 160_000), 998)
    }

    /// Mel bank: 128 × 257, DC column and Nyquist column are zero, every weight in [0, 1].
    func testMelBankEdges() {
        let bank = KaldiMelBank(options: Self.ast)
        XCTAssertEqual(bank.numBins, 128)
        XCTAssertEqual(bank.numColumns, 257)
        XCTAssertEqual(bank.weights.count, 128 * 257)
        for m in 0..<bank.numBins {
            XCTAssertEqual(bank.weight(bin: m, column: 0), 0, "bin \(m)")
            XCTAssertEqual(bank.weight(bin: m, column: 256), 0, "bin \(m)")
        }
        XCTAssertTrue(bank.weights.allSatisfy { $0 >= 0 && $0 <= 1 })
    }

    /// Mel bank: triangle m rises on [left, centre] and falls on [centre, right] in mel (within 3e-5).
    ///
    /// The bank replays torchaudio's Float32 arithmetic, which is ~1e-5 off the exact triangles (mel values near
    /// 2000 carry ~1e-4 mel of rounding); 3e-5 bounds that.
    func testMelBankFormula() {
        let bank = KaldiMelBank(options: Self.ast)
        let melLow = KaldiMelBank.mel(20), melHigh = KaldiMelBank.mel(8000)
        let delta = (melHigh - melLow) / 129
        for m in [0, 5, 64, 127] {
            let left = melLow + Double(m) * delta
            for k in 0..<256 {
                let melK = KaldiMelBank.mel(31.25 * Double(k))
                let expected = max(0, min((melK - left) / delta, (left + 2 * delta - melK) / delta))
                XCTAssertLessThanOrEqual(abs(Double(bank.weight(bin: m, column: k)) - expected), 3e-5, "bin \(m), column \(k)")
            }
        }
        // Centre frequencies increase and the last one sits just below Nyquist.
        XCTAssertTrue(zip(bank.centerFrequencies, bank.centerFrequencies.dropFirst()).allSatisfy { $0 < $1 })
        XCTAssertLessThan(bank.centerFrequencies.last!, 8000)
        XCTAssertGreaterThan(bank.centerFrequencies.last!, 7800)
    }

    /// Mel bank: with 128 bins filter 3 falls between two FFT bins and is all zero (as in torchaudio).
    func testMelBankEmptyFilter() {
        let bank = KaldiMelBank(options: Self.ast)
        XCTAssertTrue((0..<257).allSatisfy { bank.weight(bin: 3, column: $0) == 0 })
        XCTAssertTrue(bank.nonZeroColumns[3].isEmpty)
        XCTAssertEqual((0..<128).filter { bank.nonZeroColumns[$0].isEmpty }, [3])
    }

    /// Mel scale: mel(f) = 1127 ln(1 + f/700) and inverseMel undoes it.
    func testMelScale() {
        XCTAssertLessThan(abs(KaldiMelBank.mel(700) - 1127 * log(2.0)), 1e-9)
        for f in [0.0, 20, 440, 8000] {
            XCTAssertLessThan(abs(KaldiMelBank.inverseMel(KaldiMelBank.mel(f)) - f), 1e-9, "f = \(f)")
        }
    }

    /// Hanning window: symmetric, 0 at both ends, 0.5 − 0.5 cos(2πn/399) (all within 1e-6).
    ///
    /// Windows replay torch's Float32 arithmetic, so they are symmetric and exact only to Float32 rounding.
    func testHanningWindow() {
        let w = KaldiWindowType.hanning.coefficients(length: 400)
        XCTAssertEqual(w.count, 400)
        XCTAssertEqual(w[0], 0)
        XCTAssertLessThanOrEqual(abs(w[399]), 1e-6)
        for n in 0..<200 { XCTAssertLessThanOrEqual(abs(w[n] - w[399 - n]), 1e-6, "n = \(n)") }
        for n in [1, 100, 199, 250] {
            XCTAssertLessThanOrEqual(abs(Double(w[n]) - (0.5 - 0.5 * cos(2 * Double.pi * Double(n) / 399))), 1e-6, "n = \(n)")
        }
    }

    /// Povey window: (0.5 − 0.5 cos(2πn/(N−1)))^0.85, symmetric (within 1e-6).
    func testPoveyWindow() {
        let w = KaldiWindowType.povey.coefficients(length: 400)
        for n in [0, 1, 57, 199, 200, 399] {
            let hann = 0.5 - 0.5 * cos(2 * Double.pi * Double(n) / 399)
            XCTAssertLessThanOrEqual(abs(Double(w[n]) - pow(hann, 0.85)), 1e-6, "n = \(n)")
        }
        for n in 0..<200 { XCTAssertLessThanOrEqual(abs(w[n] - w[399 - n]), 1e-6, "n = \(n)") }
    }

    /// Hamming 0.54 − 0.46 cos, rectangular 1, blackman 0.42 − 0.5 cos + 0.08 cos 2x.
    func testOtherWindows() {
        let hamming = KaldiWindowType.hamming.coefficients(length: 400)
        XCTAssertLessThan(abs(hamming[0] - 0.08), 1e-7)
        XCTAssertLessThan(abs(hamming[199] - (0.54 - 0.46 * Float(cos(2 * Double.pi * 199 / 399)))), 1e-6)
        XCTAssertTrue(KaldiWindowType.rectangular.coefficients(length: 400).allSatisfy { $0 == 1 })
        let blackman = KaldiWindowType.blackman.coefficients(length: 400)
        XCTAssertLessThan(abs(blackman[0]), 1e-6)
        let x = 2 * Double.pi * 100 / 399
        XCTAssertLessThan(abs(Double(blackman[100]) - (0.42 - 0.5 * cos(x) + 0.08 * cos(2 * x))), 1e-6)
    }

    /// A 1 kHz tone peaks in the mel filter whose centre is nearest 1 kHz, in every frame.
    func testToneMelPeak() throws {
        let fbank = try KaldiFbank()
        let tone = TestSignals.sine(frequency: 1000, amplitude: 0.5, rate: 16000, count: 16000)
        let features = try fbank.compute(tone)
        let centres = fbank.melBank.centerFrequencies
        let nearest = centres.indices.min { abs(centres[$0] - 1000) < abs(centres[$1] - 1000) }!
        for t in 0..<features.rows {
            let row = Array(features.row(t))
            XCTAssertEqual(row.indices.max { row[$0] < row[$1] }, nearest, "frame \(t)")
        }
    }

    /// Silence gives ln(ε) = −15.942385 in every bin (all-zero frames hit the log floor).
    func testSilenceFloor() throws {
        let features = try KaldiFbank().compute([Float](repeating: 0, count: 4000))
        XCTAssertEqual(features.rows, 23)
        XCTAssertTrue(features.values.allSatisfy { $0 == log(Float.ulpOfOne) })
        XCTAssertLessThan(abs(log(Float.ulpOfOne) - (-15.942385)), 1e-6)
    }

    /// A constant (DC) signal is removed per frame before the spectrum.
    func testDCRemoved() throws {
        let features = try KaldiFbank().compute([Float](repeating: 0.25, count: 4000))
        XCTAssertTrue(features.values.allSatisfy { $0 == log(Float.ulpOfOne) })
    }

    /// Threads do not change the result: 1 worker and all cores agree bit for bit.
    func testThreadIndependent() throws {
        let fbank = try KaldiFbank()
        let x = TestSignals.noise(amplitude: 0.3, count: 48000)
        XCTAssertEqual(try fbank.compute(x, maxThreads: 1), try fbank.compute(x, maxThreads: 8))
    }

    /// Fewer samples than one window is an error naming both counts.
    func testTooShort() throws {
        XCTAssertThrowsError(try KaldiFbank().compute([Float](repeating: 0, count: 399))) { error in
            XCTAssertEqual(error as? KaldiFbankError, .tooShort(samples: 399, windowSize: 400), "\(error)")
        }
        XCTAssertEqual(try KaldiFbank().compute([Float](repeating: 0, count: 400)).rows, 1)
    }

    /// Options torchaudio rejects are rejected at init.
    func testInvalidOptions() {
        var dithered = KaldiFbankOptions()
        dithered.dither = 1
        var fewBins = KaldiFbankOptions()
        fewBins.numMelBins = 3
        var highAboveNyquist = KaldiFbankOptions()
        highAboveNyquist.highFreq = 9000
        var oddFFT = KaldiFbankOptions()
        oddFFT.roundToPowerOfTwo = false
        oddFFT.frameLengthMs = 25.0625  // 401 samples, odd FFT length
        for (name, options) in [("dithered", dithered), ("fewBins", fewBins), ("highAboveNyquist", highAboveNyquist),
                                ("oddFFT", oddFFT)] {
            XCTAssertThrowsError(try KaldiFbank(options: options), name) { error in
                XCTAssertTrue(error is KaldiFbankError, "\(name): expected a KaldiFbankError, got \(error)")
            }
        }
    }

    /// Negative high_freq is an offset from Nyquist.
    func testHighFreqOffset() {
        var o = KaldiFbankOptions()
        o.highFreq = -400
        XCTAssertEqual(o.resolvedHighFreq, 7600)
    }

    /// snip_edges false: (N + 80) / 160 centred frames over a mirrored signal.
    func testCentredFraming() throws {
        var o = KaldiFbankOptions()
        o.snipEdges = false
        let fbank = try KaldiFbank(options: o)
        let x = TestSignals.noise(amplitude: 0.1, count: 1000)
        let features = try fbank.compute(x)
        XCTAssertEqual(features.rows, (1000 + 80) / 160)
        XCTAssertTrue(features.values.allSatisfy { $0.isFinite })
    }

    /// subtract_mean leaves every column with mean ~0.
    func testSubtractMean() throws {
        var o = KaldiFbankOptions()
        o.subtractMean = true
        let features = try KaldiFbank(options: o).compute(TestSignals.noise(amplitude: 0.1, count: 8000))
        for c in 0..<features.columns {
            let mean = (0..<features.rows).reduce(0.0) { $0 + Double(features[$1, c]) } / Double(features.rows)
            XCTAssertLessThan(abs(mean), 1e-5, "column \(c)")
        }
    }
}
