import IPETAudio
import IPETTestSupport
import XCTest

/// `Resampler` must reproduce python-soxr 1.1.0's `soxr.resample(x, sr, 16000, quality="HQ")` on float32.
final class ResamplerTests: XCTestCase {
    static let references = Result { try Fixtures.safetensors("audio/reference.safetensors") }

    /// Matches python soxr HQ to 16 kHz in length and values (max |diff| <= 1e-4), for every clip in
    /// `ReferenceClips.resampled`.
    func testMatchesPythonSoxr() {
        for clip in ReferenceClips.resampled {
            do {
                let file = try Self.references.get()
                let decoded = try file.floats("\(clip.name).decoded")
                let reference = try file.floats("\(clip.name).16k")
                let resampled = try Resampler.resample(decoded, from: clip.sampleRate, to: 16000, quality: .high)
                XCTAssertEqual(resampled.count, reference.count, "\(clip)")
                XCTAssertLessThanOrEqual(maxAbsDifference(resampled, reference), 1e-4, "\(clip)")
            } catch {
                XCTFail("\(clip): \(error)")
            }
        }
    }

    /// Equal rates return the input unchanged.
    func testIdentity() throws {
        let x: [Float] = [0.1, -0.2, 0.3]
        XCTAssertEqual(try Resampler.resample(x, from: 16000, to: 16000), x)
    }

    /// Empty input gives empty output.
    func testEmpty() throws {
        XCTAssertTrue(try Resampler.resample([], from: 44100, to: 16000).isEmpty)
    }

    /// Non-positive rates are rejected.
    func testInvalidRates() {
        XCTAssertThrowsError(try Resampler.resample([1], from: 0, to: 16000)) { error in
            XCTAssertEqual(error as? ResamplingError, .invalidRate(0), "\(error)")
        }
        XCTAssertThrowsError(try Resampler.resample([1], from: 16000, to: -8000)) { error in
            XCTAssertEqual(error as? ResamplingError, .invalidRate(-8000), "\(error)")
        }
    }

    /// A 1 kHz tone keeps its amplitude through 48 kHz -> 16 kHz (within 1e-3 away from the edges).
    func testTonePreserved() throws {
        let input = TestSignals.sine(frequency: 1000, amplitude: 0.5, rate: 48000, count: 48000)
        let output = try Resampler.resample(input, from: 48000, to: 16000)
        XCTAssertEqual(output.count, 16000)
        let expected = TestSignals.sine(frequency: 1000, amplitude: 0.5, rate: 16000, count: 16000)
        XCTAssertLessThanOrEqual(maxAbsDifference(output[1000..<15000], expected[1000..<15000]), 1e-3)
    }
}
