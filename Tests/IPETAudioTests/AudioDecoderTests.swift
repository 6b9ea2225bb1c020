import Dispatch
import Foundation
import IPETAudio
import IPETTestSupport
import Testing

/// `AudioDecoder` must hand the pipeline exactly what python's `soundfile.read(path, dtype="float32")` plus
/// `x.mean(axis=1)` gives, and refuse broken files with an error that names the file.
@Suite struct AudioDecoderTests {
    static let references = Result { try Fixtures.safetensors("audio/reference.safetensors") }

    @Test("decodes like soundfile + numpy channel mean (max |diff| <= 1e-6)", arguments: ReferenceClips.all)
    func decodedMatchesReference(_ clip: ReferenceClips.Clip) throws {
        let reference = try Self.references.get().floats("\(clip.name).decoded")
        let decoded = try AudioDecoder.decode(path: ReferenceClips.path(clip))
        #expect(decoded.sampleRate == clip.sampleRate)
        #expect(decoded.sourceChannels == clip.channels)
        #expect(decoded.samples.count == reference.count)
        #expect(maxAbsDifference(decoded.samples, reference) <= 1e-6)
    }

    @Test("an empty file is rejected as empty, naming the file")
    func emptyFile() {
        let path = Fixtures.path("audio/bad_empty.wav")
        let error = #expect(throws: AudioError.self) { try AudioDecoder.decode(path: path) }
        #expect(error?.problem == .empty)
        #expect(error?.path == path)
        #expect(error?.description.contains("bad_empty.wav") == true)
    }

    @Test("a text file named .wav is rejected with libsndfile's reason")
    func textFile() {
        let path = Fixtures.path("audio/bad_text.wav")
        let error = #expect(throws: AudioError.self) { try AudioDecoder.decode(path: path) }
        guard case let .notAudio(reason)? = error?.problem else {
            Issue.record("expected .notAudio, got \(String(describing: error))")
            return
        }
        #expect(reason.localizedCaseInsensitiveContains("format not recognised"))
        #expect(error?.description.contains("bad_text.wav") == true)
    }

    @Test("a WAV whose data chunk claims 64000 bytes but holds 1001 is rejected as truncated")
    func truncatedWAV() {
        let path = Fixtures.path("audio/bad_truncated.wav")
        let error = #expect(throws: AudioError.self) { try AudioDecoder.decode(path: path) }
        #expect(error?.problem == .truncated(declaredFrames: 32000, availableFrames: 500))
        #expect(error?.description.contains("bad_truncated.wav") == true)
    }

    @Test("a float WAV holding NaN or infinity is rejected, naming the first bad frame", arguments: [Float.nan, .infinity, -.infinity])
    func nonFiniteSamples(_ bad: Float) throws {
        let path = Fixtures.temporaryDirectory("ipet-audio").appendingPathComponent("bad.wav").path
        var stereo = syntheticAudio(seconds: 3, rate: 16000, channels: 2, seed: 3)
        stereo[2 * 40000 + 1] = bad  // frame 40000, second channel: in the second decoding chunk
        try AudioFileWriter.write(interleaved: stereo, channels: 2, sampleRate: 16000, format: .wavFloat32, to: path)
        let error = #expect(throws: AudioError.self) { try AudioDecoder.decode(path: path) }
        #expect(error?.problem == .nonFinite(frame: 40000))
        #expect(error?.description.contains("bad.wav: sample 40000 is NaN or infinite") == true)
    }

    @Test("the decodeAvailable policy returns the 500 whole samples a truncated WAV still holds")
    func truncatedWAVDecodeAvailable() throws {
        let decoded = try AudioDecoder(truncation: .decodeAvailable).decode(path: Fixtures.path("audio/bad_truncated.wav"))
        #expect(decoded.samples.count == 500)
        #expect(decoded.sampleRate == 16000)
    }

    @Test("a FLAC cut in half is rejected as truncated; decodeAvailable returns the part before the cut")
    func truncatedFLAC() throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("audio/noise_3s_16k.flac")))
        let path = Fixtures.temporaryDirectory("ipet-audio").appendingPathComponent("half.flac").path
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: AudioError.self) { try AudioDecoder.decode(path: path) }
        guard case let .truncated(declared, available)? = error?.problem else {
            Issue.record("expected .truncated, got \(String(describing: error))")
            return
        }
        #expect(declared == 48000)
        #expect(available > 0 && available < 48000)
        let partial = try AudioDecoder(truncation: .decodeAvailable).decode(path: path)
        let reference = try Self.references.get().floats("noise_3s_16k.decoded")
        #expect(partial.samples.count == Int(available))
        #expect(partial.samples == Array(reference[0..<partial.samples.count]))
    }

    /// libsndfile keeps some state process-wide (the last open error, codec set-up); `SndFileLock` serialises
    /// opens and closes. Many threads decoding and encoding at once must see no spurious failure.
    @Test("concurrent decoding and encoding on many threads: every result as when run alone")
    func concurrentUse() throws {
        let directory = Fixtures.temporaryDirectory("ipet-audio")
        let tone = try AudioDecoder.decode(path: Fixtures.path("audio/tone440_2s_16k.wav")).samples
        let formats: [AudioFileWriter.Format] = [.wavPCM16, .flacPCM16, .oggVorbis, .mp3]
        let failures = FailureLog()
        DispatchQueue.concurrentPerform(iterations: 32) { i in
            do {
                let path = directory.appendingPathComponent("c\(i)").path
                let x = TestSignals.noise(amplitude: 0.2, count: 1600, seed: UInt64(i + 1))
                try AudioFileWriter.write(interleaved: x, channels: 1, sampleRate: 16000, format: formats[i % 4], to: path)
                _ = try AudioDecoder.decode(path: path)
                let again = try AudioDecoder.decode(path: Fixtures.path("audio/tone440_2s_16k.wav")).samples
                if again != tone { failures.record("\(i): tone decoded differently") }
                if (try? AudioDecoder.decode(path: Fixtures.path("audio/bad_text.wav"))) != nil {
                    failures.record("\(i): text file accepted")
                }
            } catch {
                failures.record("\(i): \(error)")
            }
        }
        #expect(failures.messages.isEmpty, "\(failures.messages.prefix(3))")
    }

    /// A hostile header: RIFF/WAVE PCM16 mono whose `data` chunk claims 0x7FFFFFF0 bytes (~1.07 G frames) while
    /// 8 bytes follow. Decoding must neither allocate for the claim nor loop: it is rejected as truncated, and
    /// `.decodeAvailable` returns the 4 samples present.
    @Test("a WAV claiming ~1 G frames in a 52-byte file is rejected as truncated without allocating for the claim")
    func hostileDataSize() throws {
        var bytes: [UInt8] = Array("RIFF".utf8) + le32(0x7FFF_FFF0 + 36) + Array("WAVE".utf8)
        bytes += Array("fmt ".utf8) + le32(16) + le16(1) + le16(1) + le32(16000) + le32(32000) + le16(2) + le16(16)
        bytes += Array("data".utf8) + le32(0x7FFF_FFF0) + [0x00, 0x10, 0x00, 0x20, 0x00, 0xF0, 0x00, 0xE0]
        let path = Fixtures.temporaryDirectory("ipet-audio").appendingPathComponent("hostile.wav").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: AudioError.self) { try AudioDecoder.decode(path: path) }
        #expect(error?.problem == .truncated(declaredFrames: 0x3FFF_FFF8, availableFrames: 4))
        let available = try AudioDecoder(truncation: .decodeAvailable).decode(path: path)
        #expect(available.samples == [0.125, 0.25, -0.125, -0.25])
    }

    private func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    private func le16(_ v: UInt16) -> [UInt8] { (0..<2).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

    @Test("a missing file is reported as cannotOpen")
    func missingFile() {
        let path = Fixtures.path("audio/does-not-exist.wav")
        let error = #expect(throws: AudioError.self) { try AudioDecoder.decode(path: path) }
        guard case .cannotOpen? = error?.problem else {
            Issue.record("expected .cannotOpen, got \(String(describing: error))")
            return
        }
    }

    @Test("a WAV with a header but no frames is rejected as noSamples")
    func headerOnly() throws {
        let path = Fixtures.temporaryDirectory("ipet-audio").appendingPathComponent("empty-data.wav").path
        try AudioFileWriter.write(interleaved: [], channels: 1, sampleRate: 16000, format: .wavPCM16, to: path)
        let error = #expect(throws: AudioError.self) { try AudioDecoder.decode(path: path) }
        #expect(error?.problem == .noSamples)
    }

    @Test("the frame limit stops long files")
    func frameLimit() {
        let path = Fixtures.path("audio/tone440_2s_16k.wav")
        let error = #expect(throws: AudioError.self) { try AudioDecoder(maximumFrames: 1000).decode(path: path) }
        #expect(error?.problem == .tooLong(limitFrames: 1000))
    }

    /// Every codec libsndfile writes must come back with the right rate, length (within the codec's padding)
    /// and content. Lossy codecs are judged by the 440 Hz component they return: a least-squares sinusoid fit
    /// over the middle of the clip must have the mean amplitude of the two channels (0.3, within 5 %) and leave
    /// a residual below 0.02 RMS.
    @Test("round-trips every container and codec libsndfile writes", arguments: AudioFileWriter.Format.allCases)
    func roundTrip(_ format: AudioFileWriter.Format) throws {
        let rate = 16000
        let frames = 8000
        let left = TestSignals.sine(frequency: 440, amplitude: 0.4, rate: Double(rate), count: frames)
        let right = TestSignals.sine(frequency: 440, amplitude: 0.2, rate: Double(rate), count: frames)
        var stereo = [Float](repeating: 0, count: 2 * frames)
        for i in 0..<frames {
            stereo[2 * i] = left[i]
            stereo[2 * i + 1] = right[i]
        }
        let path = Fixtures.temporaryDirectory("ipet-audio").appendingPathComponent("clip.\(format)").path
        try AudioFileWriter.write(interleaved: stereo, channels: 2, sampleRate: rate, format: format, to: path)
        let decoded = try AudioDecoder.decode(path: path)
        #expect(decoded.sampleRate == rate)
        #expect(decoded.sourceChannels == 2)
        let expected: [Float] = (0..<frames).map { i in (left[i] + right[i]) / 2 }
        switch format {
        case .wavFloat32:
            #expect(decoded.samples == expected)
        case .wavPCM16, .wavPCM24, .flacPCM16:
            #expect(decoded.samples.count == frames)
            #expect(maxAbsDifference(decoded.samples, expected) <= 1.0 / 32768)
        case .oggVorbis, .oggOpus, .mp3:
            #expect(abs(decoded.samples.count - frames) <= 2048)
            let fit = Self.sinusoidFit(decoded.samples[2000..<6000], frequency: 440, rate: Double(rate))
            #expect(abs(fit.amplitude - 0.3) <= 0.015)
            #expect(fit.residualRMS <= 0.02)
        }
    }

    /// Least-squares fit of `a·sin + b·cos + c` at `frequency`: its amplitude √(a²+b²) and the residual RMS.
    static func sinusoidFit(_ x: ArraySlice<Float>, frequency: Double, rate: Double)
        -> (amplitude: Double, residualRMS: Double)
    {
        let w = 2 * Double.pi * frequency / rate
        var ss = 0.0, cc = 0.0, sc = 0.0, s1 = 0.0, c1 = 0.0, xs = 0.0, xc = 0.0, x1 = 0.0
        let n = Double(x.count)
        for (k, v) in zip(x.indices, x) {
            let s = sin(w * Double(k)), c = cos(w * Double(k)), y = Double(v)
            ss += s * s; cc += c * c; sc += s * c; s1 += s; c1 += c
            xs += y * s; xc += y * c; x1 += y
        }
        // Normal equations for (a, b, c), solved by Cramer's rule.
        let m = [[ss, sc, s1], [sc, cc, c1], [s1, c1, n]]
        let r = [xs, xc, x1]
        func det(_ a: [[Double]]) -> Double {
            a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0])
                + a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0])
        }
        func replaced(_ column: Int) -> [[Double]] { (0..<3).map { i in (0..<3).map { j in j == column ? r[i] : m[i][j] } } }
        let d = det(m)
        let a = det(replaced(0)) / d, b = det(replaced(1)) / d, c = det(replaced(2)) / d
        var residual = 0.0
        for (k, v) in zip(x.indices, x) {
            let e = Double(v) - (a * sin(w * Double(k)) + b * cos(w * Double(k)) + c)
            residual += e * e
        }
        return ((a * a + b * b).squareRoot(), (residual / n).squareRoot())
    }
}

/// Collects failures from concurrent workers.
final class FailureLog: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []
    func record(_ message: String) { lock.withLock { stored.append(message) } }
    var messages: [String] { lock.withLock { stored } }
}
