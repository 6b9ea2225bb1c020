import Foundation
import IPETAudio
import IPETTestSupport
import XCTest

/// Audio files that broke the decoder's promises (README "Fuzzing", AudioFuzz), built here byte by byte.
final class AudioDecoderHostileInputTests: XCTestCase {
    /// A RIFF WAVE file of IEEE float32 samples, `channels` interleaved.
    private func floatWAV(_ samples: [Float], channels: Int) throws -> String {
        func u32(_ v: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(v).littleEndian, Array.init) }
        func u16(_ v: Int) -> [UInt8] { withUnsafeBytes(of: UInt16(v).littleEndian, Array.init) }
        let data = samples.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
        let format = u16(3) + u16(channels) + u32(16000) + u32(16000 * 4 * channels) + u16(4 * channels) + u16(32)
        let chunks = Array("fmt ".utf8) + u32(format.count) + format + Array("data".utf8) + u32(data.count) + data
        let bytes = Array("RIFF".utf8) + u32(4 + chunks.count) + Array("WAVE".utf8) + chunks
        let url = Fixtures.temporaryDirectory("audio").appendingPathComponent("float.wav")
        try Data(bytes).write(to: url)
        return url.path
    }

    /// Found by review, confirmed with AudioFuzz's finiteness property on this input: two finite channels of 3e38
    /// averaged to +inf (the Float32 sum overflowed), which the decoder promises never to return. The mean is now
    /// exact there and unchanged elsewhere.
    func testChannelAverageOfHugeFiniteSamplesIsFinite() throws {
        let path = try floatWAV([3e38, 3e38, -3e38, -3e38, 0.5, 0.25, 3e38, -3e38], channels: 2)
        let audio = try AudioDecoder.decode(path: path)
        XCTAssertEqual(audio.samples, [3e38, -3e38, 0.375, 0])
    }
}
