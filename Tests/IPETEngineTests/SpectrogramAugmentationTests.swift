@testable import IPETEngine
import IPETModels
import XCTest

/// `ipet train`'s AST augmentation does what `tools/train_ipet.py`'s `spec_augment` and `tools/make_demo.py`'s
/// `FrequencyShift` do (their random streams differ, so the draws are checked by their ranges and frequencies): one
/// time mask of width uniform in 0..<timeMask starting in 0..<frames − width, one frequency mask likewise, both set to
/// 0, then the mel axis moved by s uniform in −melShift…melShift with the vacated bins 0.
final class SpectrogramAugmentationTests: XCTestCase {
    private let frames = 100, bins = 64, draws = 1500

    /// Every value distinct and non-zero: value = 1 + bin + 100 · frame.
    private var ramp: [Float] { (0..<(frames * bins)).map { Float(1 + $0 % bins + 100 * ($0 / bins)) } }

    private struct Draw {
        var shift = 0
        var zeroFrames: [Int] = []
        /// Source bins masked by the frequency mask (before the shift).
        var maskedBins: [Int] = []
    }

    /// Reads back what `apply` did to the ramp, checking that everything else is the input moved by one shift.
    private func read(_ x: [Float]) -> Draw {
        var d = Draw()
        d.zeroFrames = (0..<frames).filter { t in (0..<bins).allSatisfy { x[t * bins + $0] == 0 } }
        let zero = Set(d.zeroFrames), kept = (0..<frames).filter { !zero.contains($0) }
        guard let t0 = kept.first, let f0 = (0..<bins).first(where: { x[t0 * bins + $0] != 0 }) else { return d }
        d.shift = f0 - (Int(x[t0 * bins + f0]) - 1 - 100 * t0)
        var wrong: (frame: Int, bin: Int)?
        for f in 0..<bins {
            let source = f - d.shift
            var allZero = true
            for t in kept {
                let v = x[t * bins + f]
                allZero = allZero && v == 0
                // Vacated bins are 0; the others hold the input moved by the shift, or 0 where the frequency mask fell.
                if (source < 0 || source >= bins) ? v != 0 : (v != 0 && v != Float(1 + source + 100 * t)) { wrong = wrong ?? (t, f) }
            }
            if source >= 0, source < bins, allZero { d.maskedBins.append(source) }
        }
        XCTAssertNil(wrong, "not the input moved by \(d.shift) bins with the vacated bins 0")
        return d
    }

    private func run(_ a: SpectrogramAugmentation) -> [Draw] {
        var generator = SeededRandomGenerator(seed: 7)
        return (0..<draws).map { _ in
            var x = ramp
            a.apply(&x, frames: frames, bins: bins, generator: &generator)
            return read(x)
        }
    }

    /// Each of `values` drawn about equally often (binomial: 5 standard deviations), nothing else.
    private func assertUniform(_ drawn: [Int], over values: ClosedRange<Int>, _ what: String) {
        let expected = Double(drawn.count) / Double(values.count)
        let sd = (expected * (1 - 1 / Double(values.count))).squareRoot()
        for v in values {
            let n = drawn.filter { $0 == v }.count
            XCTAssertEqual(Double(n), expected, accuracy: 5 * sd, "\(what) \(v) drawn \(n) times of \(drawn.count)")
        }
        XCTAssertTrue(drawn.allSatisfy(values.contains), "\(what) outside \(values)")
    }

    func testMelShiftMovesTheWholeExampleByUpToTheLimitEitherWayAndZeroesTheVacatedBins() {
        let draws = run(SpectrogramAugmentation(frequencyMask: 0, timeMask: 0, melShift: 4))
        assertUniform(draws.map(\.shift), over: -4...4, "shift")
        XCTAssertTrue(draws.allSatisfy { $0.zeroFrames.isEmpty && $0.maskedBins.isEmpty })
    }

    func testTimeMaskIsOneRunOfZeroFramesNarrowerThanTheLimitStartingBeforeFramesMinusItsWidth() {
        let draws = run(SpectrogramAugmentation(frequencyMask: 0, timeMask: 10, melShift: 0))
        assertUniform(draws.map(\.zeroFrames.count), over: 0...9, "time mask width")
        for d in draws where !d.zeroFrames.isEmpty {
            XCTAssertEqual(d.zeroFrames, Array(d.zeroFrames[0]..<(d.zeroFrames[0] + d.zeroFrames.count)))
            XCTAssertLessThan(d.zeroFrames[0], frames - d.zeroFrames.count)  // torch.randint(0, max(1, size - w))
        }
        XCTAssertTrue(draws.allSatisfy { $0.shift == 0 && $0.maskedBins.isEmpty })
        let starts = draws.compactMap(\.zeroFrames.first)
        XCTAssertEqual(starts.min(), 0)
        XCTAssertGreaterThan(starts.max()!, frames - 5)
    }

    func testFrequencyMaskComesBeforeTheShiftAndMovesWithIt() {
        let draws = run(SpectrogramAugmentation(frequencyMask: 8, timeMask: 0, melShift: 3))
        assertUniform(draws.map(\.maskedBins.count), over: 0...7, "frequency mask width")
        assertUniform(draws.map(\.shift), over: -3...3, "shift")
        for d in draws where !d.maskedBins.isEmpty {
            // The masked source bins are one run within the input (a band cut by the shift's edge only at the ends).
            XCTAssertEqual(d.maskedBins, Array(d.maskedBins[0]...d.maskedBins.last!))
        }
    }
}
