import IPETAudio
import IPETTestSupport
import Testing

/// `Resampler` must reproduce python-soxr 1.1.0's `soxr.resample(x, sr, 16000, quality="HQ")` on float32.
@Suite struct ResamplerTests {
    static let references = Result { try Fixtures.safetensors("audio/reference.safetensors") }

    @Test("matches python soxr HQ to 16 kHz in length and values (max |diff| <= 1e-4)",
          arguments: ReferenceClips.resampled)
    func matchesPythonSoxr(_ clip: ReferenceClips.Clip) throws {
        let file = try Self.references.get()
        let decoded = try file.floats("\(clip.name).decoded")
        let reference = try file.floats("\(clip.name).16k")
        let resampled = try Resampler.resample(decoded, from: clip.sampleRate, to: 16000, quality: .high)
        #expect(resampled.count == reference.count)
        #expect(maxAbsDifference(resampled, reference) <= 1e-4)
    }

    @Test("equal rates return the input unchanged")
    func identity() throws {
        let x: [Float] = [0.1, -0.2, 0.3]
        #expect(try Resampler.resample(x, from: 16000, to: 16000) == x)
    }

    @Test("empty input gives empty output")
    func empty() throws {
        #expect(try Resampler.resample([], from: 44100, to: 16000).isEmpty)
    }

    @Test("non-positive rates are rejected")
    func invalidRates() {
        #expect(throws: ResamplingError.invalidRate(0)) { try Resampler.resample([1], from: 0, to: 16000) }
        #expect(throws: ResamplingError.invalidRate(-8000)) { try Resampler.resample([1], from: 16000, to: -8000) }
    }

    @Test("a 1 kHz tone keeps its amplitude through 48 kHz -> 16 kHz (within 1e-3 away from the edges)")
    func tonePreserved() throws {
        let input = TestSignals.sine(frequency: 1000, amplitude: 0.5, rate: 48000, count: 48000)
        let output = try Resampler.resample(input, from: 48000, to: 16000)
        #expect(output.count == 16000)
        let expected = TestSignals.sine(frequency: 1000, amplitude: 0.5, rate: 16000, count: 16000)
        #expect(maxAbsDifference(output[1000..<15000], expected[1000..<15000]) <= 1e-3)
    }
}
