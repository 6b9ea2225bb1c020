import Dispatch
import Foundation
import IPETAudio
import IPETTestSupport
import XCTest

/// `AudioDecoder` must hand the pipeline exactly what python's `soundfile.read(path, dtype="float32")` plus
/// `x.mean(axis=1)` gives, and refuse broken files with an error that names the file.
final class AudioDecoderTests: XCTestCase {
    static let references = Result { try Fixtures.safetensors("audio/reference.safetensors") }

    /// Decodes like soundfile + numpy channel mean (max |diff| <= 1e-6), for every clip in `ReferenceClips.all`.
    func testDecodedMatchesReference() {
        for clip in ReferenceClips.all {
            do {
                let reference = try Self.references.get().floats("\(clip.name).decoded")
                let decoded = try AudioDecoder.decode(path: ReferenceClips.path(clip))
                XCTAssertEqual(decoded.sampleRate, clip.sampleRate, "\(clip)")
                XCTAssertEqual(decoded.sourceChannels, clip.channels, "\(clip)")
                XCTAssertEqual(decoded.samples.count, reference.count, "\(clip)")
                XCTAssertLessThanOrEqual(maxAbsDifference(decoded.samples, reference), 1e-6, "\(clip)")
            } catch {
                XCTFail("\(clip): \(error)")
            }
        }
    }

    /// An empty file is rejected as empty, naming the file.
    func testEmptyFile() {
        let path = Fixtures.path("audio/bad_empty.wav")
        XCTAssertThrowsError(try AudioDecoder.decode(path: path)) { error in
            guard let error = error as? AudioError else { return XCTFail("expected an AudioError, got \(error)") }
            XCTAssertEqual(error.problem, .empty)
            XCTAssertEqual(error.path, path)
            XCTAssertTrue(error.description.contains("bad_empty.wav"), error.description)
        }
    }

    /// A text file named .wav is rejected with libsndfile's reason.
    func testTextFile() {
        let path = Fixtures.path("audio/bad_text.wav")
        XCTAssertThrowsError(try AudioDecoder.decode(path: path)) { error in
            guard let error = error as? AudioError else { return XCTFail("expected an AudioError, got \(error)") }
            guard case let .notAudio(reason) = error.problem else {
                return XCTFail("expected .notAudio, got \(String(describing: error))")
            }
            XCTAssertTrue(reason.localizedCaseInsensitiveContains("format not recognised"), reason)
            XCTAssertTrue(error.description.contains("bad_text.wav"), error.description)
        }
    }

    /// A WAV whose data chunk claims 64000 bytes but holds 1001 is rejected as truncated.
    func testTruncatedWAV() {
        let path = Fixtures.path("audio/bad_truncated.wav")
        XCTAssertThrowsError(try AudioDecoder.decode(path: path)) { error in
            guard let error = error as? AudioError else { return XCTFail("expected an AudioError, got \(error)") }
            XCTAssertEqual(error.problem, .truncated(declaredFrames: 32000, availableFrames: 500))
            XCTAssertTrue(error.description.contains("bad_truncated.wav"), error.description)
        }
    }

    /// A float WAV holding NaN or infinity is rejected, naming the first bad frame; for NaN, +∞ and −∞.
    func testNonFiniteSamples() {
        for bad in [Float.nan, .infinity, -.infinity] {
            do {
                let path = Fixtures.temporaryDirectory("ipet-audio").appendingPathComponent("bad.wav").path
                var stereo = syntheticAudio(seconds: 3, rate: 16000, channels: 2, seed: 3)
                stereo[2 * 40000 + 1] = bad  // frame 40000, second channel: in the second decoding chunk
                try AudioFileWriter.write(interleaved: stereo, channels: 2, sampleRate: 16000, format: .wavFloat32, to: path)
                XCTAssertThrowsError(try AudioDecoder.decode(path: path), "\(bad)") { error in
                    guard let error = error as? AudioError else {
                        return XCTFail("\(bad): expected an AudioError, got \(error)")
                    }
                    XCTAssertEqual(error.problem, .nonFinite(frame: 40000), "\(bad)")
                    XCTAssertTrue(error.description.contains("bad.wav: sample 40000 is NaN or infinite"),
                                  "\(bad): \(error.description)")
                }
            } catch {
                XCTFail("\(bad): \(error)")
            }
        }
    }

    /// The decodeAvailable policy returns the 500 whole samples a truncated WAV still holds.
    func testTruncatedWAVDecodeAvailable() throws {
        let decoded = try AudioDecoder(truncation: .decodeAvailable).decode(path: Fixtures.path("audio/bad_truncated.wav"))
        XCTAssertEqual(decoded.samples.count, 500)
        XCTAssertEqual(decoded.sampleRate, 16000)
    }

    /// A FLAC cut in half is rejected as truncated; decodeAvailable returns the part before the cut.
    func testTruncatedFLAC() throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("audio/noise_3s_16k.flac")))
        let path = Fixtures.temporaryDirectory("ipet-audio").appendingPathComponent("half.flac").path
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path))
        var thrown: AudioError?
        XCTAssertThrowsError(try AudioDecoder.decode(path: path)) { error in
            thrown = error as? AudioError
            XCTAssertNotNil(thrown, "expected an AudioError, got \(error)")
        }
        guard case let .truncated(declared, available)? = thrown?.problem else {
            return XCTFail("expected .truncated, got \(String(describing: thrown))")
        }
        XCTAssertEqual(declared, 48000)
        XCTAssertGreaterThan(available, 0)
        XCTAssertLessThan(available, 48000)
        let partial = try AudioDecoder(truncation: .decodeAvailable).decode(path: path)
        let reference = try Self.references.get().floats("noise_3s_16k.decoded")
        XCTAssertEqual(partial.samples.count, Int(available))
        XCTAssertEqual(partial.samples, Array(reference[0..<partial.samples.count]))
    }

    /// Concurrent decoding and encoding on many threads: every result as when run alone.
    ///
    /// libsndfile keeps some state process-wide (the last open error, codec set-up); `SndFileLock` serialises
    /// opens and closes. Many threads decoding and encoding at once must see no spurious failure.
    func testConcurrentUse() throws {
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
        XCTAssertTrue(failures.messages.isEmpty, "\(failures.messages.prefix(3))")
    }

    /// A file libsndfile refuses must not close a descriptor the decoder does not own.
    ///
    /// libsndfile 1.0.30 and later close the descriptor given to `sf_open_fd` when the open fails, even when
    /// asked not to (libsndfile issues #948, #949). A decoder that then closed it again closed whatever file
    /// another thread had opened under the same number in between: a concurrent decode failed with
    /// "Bad file descriptor". Here one thread decodes a text file (refused by `sf_open_fd`) over and over while
    /// another opens, reads and closes a file; every read must succeed, and the process must hold no more
    /// descriptors afterwards than before.
    func testRefusedFilesNeverCloseAnotherThreadsDescriptor() throws {
        let bad = Fixtures.path("audio/bad_text.wav")
        let other = Fixtures.path("audio/tone440_2s_16k.wav")
        let before = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count
        let failures = FailureLog()
        let rounds = 20000
        DispatchQueue.concurrentPerform(iterations: 2) { worker in
            for round in 0..<rounds {
                if worker == 0 {
                    do {
                        _ = try AudioDecoder.decode(path: bad)
                        failures.record("\(round): text file accepted")
                    } catch {
                        guard case .notAudio? = (error as? AudioError)?.problem else { return failures.record("\(round): \(error)") }
                    }
                } else {
                    let fd = open(other, O_RDONLY)
                    guard fd >= 0 else { return failures.record("\(round): open failed, errno \(errno)") }
                    var header = [UInt8](repeating: 0, count: 4)
                    let got = header.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 4, 0) }
                    if got != 4 || header != Array("RIFF".utf8) {
                        failures.record("\(round): read \(got) bytes, errno \(errno): descriptor closed underneath")
                    }
                    close(fd)
                }
                if failures.messages.count > 3 { return }
            }
        }
        XCTAssertTrue(failures.messages.isEmpty, "\(failures.messages.prefix(3))")
        let after = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count
        XCTAssertEqual(after, before, "descriptors leaked or closed by refused opens")
    }

    /// A WAV claiming ~1 G frames in a 52-byte file is rejected as truncated without allocating for the claim.
    ///
    /// A hostile header: RIFF/WAVE PCM16 mono whose `data` chunk claims 0x7FFFFFF0 bytes (~1.07 G frames) while
    /// 8 bytes follow. Decoding must neither allocate for the claim nor loop: it is rejected as truncated, and
    /// `.decodeAvailable` returns the 4 samples present.
    func testHostileDataSize() throws {
        var bytes: [UInt8] = Array("RIFF".utf8) + le32(0x7FFF_FFF0 + 36) + Array("WAVE".utf8)
        bytes += Array("fmt ".utf8) + le32(16) + le16(1) + le16(1) + le32(16000) + le32(32000) + le16(2) + le16(16)
        bytes += Array("data".utf8) + le32(0x7FFF_FFF0) + [0x00, 0x10, 0x00, 0x20, 0x00, 0xF0, 0x00, 0xE0]
        let path = Fixtures.temporaryDirectory("ipet-audio").appendingPathComponent("hostile.wav").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try AudioDecoder.decode(path: path)) { error in
            guard let error = error as? AudioError else { return XCTFail("expected an AudioError, got \(error)") }
            XCTAssertEqual(error.problem, .truncated(declaredFrames: 0x3FFF_FFF8, availableFrames: 4))
        }
        let available = try AudioDecoder(truncation: .decodeAvailable).decode(path: path)
        XCTAssertEqual(available.samples, [0.125, 0.25, -0.125, -0.25])
    }

    private func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    private func le16(_ v: UInt16) -> [UInt8] { (0..<2).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

    /// A missing file is reported as cannotOpen.
    func testMissingFile() {
        let path = Fixtures.path("audio/does-not-exist.wav")
        XCTAssertThrowsError(try AudioDecoder.decode(path: path)) { error in
            guard let error = error as? AudioError else { return XCTFail("expected an AudioError, got \(error)") }
            guard case .cannotOpen = error.problem else {
                return XCTFail("expected .cannotOpen, got \(String(describing: error))")
            }
        }
    }

    /// A WAV with a header but no frames is rejected as noSamples.
    func testHeaderOnly() throws {
        let path = Fixtures.temporaryDirectory("ipet-audio").appendingPathComponent("empty-data.wav").path
        try AudioFileWriter.write(interleaved: [], channels: 1, sampleRate: 16000, format: .wavPCM16, to: path)
        XCTAssertThrowsError(try AudioDecoder.decode(path: path)) { error in
            guard let error = error as? AudioError else { return XCTFail("expected an AudioError, got \(error)") }
            XCTAssertEqual(error.problem, .noSamples)
        }
    }

    /// The frame limit stops long files.
    func testFrameLimit() {
        let path = Fixtures.path("audio/tone440_2s_16k.wav")
        XCTAssertThrowsError(try AudioDecoder(maximumFrames: 1000).decode(path: path)) { error in
            guard let error = error as? AudioError else { return XCTFail("expected an AudioError, got \(error)") }
            XCTAssertEqual(error.problem, .tooLong(limitFrames: 1000))
        }
    }

    /// The duration limit is read at the file's own rate: 1.5 s of a 2 s clip at 16 kHz is 24 000 frames; 2 s passes.
    func testDurationLimit() throws {
        let path = Fixtures.path("audio/tone440_2s_16k.wav")
        XCTAssertThrowsError(try AudioDecoder(maximumSeconds: 1.5).decode(path: path)) { error in
            XCTAssertEqual((error as? AudioError)?.problem, .tooLong(limitFrames: 24_000))
        }
        XCTAssertEqual(try AudioDecoder(maximumSeconds: 2).decode(path: path).samples.count, 32_000)
    }

    /// Round-trips every container and codec libsndfile writes (`AudioFileWriter.Format.allCases`).
    ///
    /// Every codec libsndfile writes must come back with the right rate, length (within the codec's padding)
    /// and content. Lossy codecs are judged by the 440 Hz component they return: a least-squares sinusoid fit
    /// over the middle of the clip must have the mean amplitude of the two channels (0.3, within 5 %) and leave
    /// a residual below 0.02 RMS.
    func testRoundTrip() {
        for format in AudioFileWriter.Format.allCases {
            do {
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
                XCTAssertEqual(decoded.sampleRate, rate, "\(format)")
                XCTAssertEqual(decoded.sourceChannels, 2, "\(format)")
                let expected: [Float] = (0..<frames).map { i in (left[i] + right[i]) / 2 }
                switch format {
                case .wavFloat32:
                    XCTAssertEqual(decoded.samples, expected, "\(format)")
                case .wavPCM16, .wavPCM24, .flacPCM16:
                    XCTAssertEqual(decoded.samples.count, frames, "\(format)")
                    XCTAssertLessThanOrEqual(maxAbsDifference(decoded.samples, expected), 1.0 / 32768, "\(format)")
                case .oggVorbis, .oggOpus, .mp3:
                    XCTAssertLessThanOrEqual(abs(decoded.samples.count - frames), 2048, "\(format)")
                    let fit = Self.sinusoidFit(decoded.samples[2000..<6000], frequency: 440, rate: Double(rate))
                    XCTAssertLessThanOrEqual(abs(fit.amplitude - 0.3), 0.015, "\(format)")
                    XCTAssertLessThanOrEqual(fit.residualRMS, 0.02, "\(format)")
                }
            } catch {
                XCTFail("\(format): \(error)")
            }
        }
    }

    /// A write libsndfile refuses after creating the file (Opus at 44.1 kHz, a rate Opus lacks) leaves the old file
    /// untouched and nothing else in the folder; a write that succeeds replaces it whole.
    func testRefusedWritesLeaveTheOldFileAndNoPartialOne() throws {
        let directory = Fixtures.temporaryDirectory("ipet-audio-writer")
        let path = directory.appendingPathComponent("clip.ogg").path
        let old = TestSignals.noise(amplitude: 0.2, count: 1600, seed: 7)
        try AudioFileWriter.write(interleaved: old, channels: 1, sampleRate: 16000, format: .wavFloat32, to: path)
        let x = TestSignals.noise(amplitude: 0.2, count: 4410, seed: 8)
        XCTAssertThrowsError(try AudioFileWriter.write(interleaved: x, channels: 1, sampleRate: 44100, format: .oggOpus, to: path)) {
            XCTAssertTrue("\($0)".contains(path), "\($0)")
        }
        XCTAssertEqual(try AudioDecoder.decode(path: path).samples, old)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["clip.ogg"])
        try AudioFileWriter.write(interleaved: x, channels: 1, sampleRate: 16000, format: .wavFloat32, to: path)
        XCTAssertEqual(try AudioDecoder.decode(path: path).samples, x)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["clip.ogg"])
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
