import Foundation
import IPETAudio
import IPETTestSupport
import XCTest

/// Audio files that broke the decoder's promises (README "Fuzzing", AudioFuzz), built here byte by byte.
final class AudioDecoderHostileInputTests: XCTestCase {
    /// A RIFF WAVE file of IEEE float32 samples, `channels` interleaved.
    private func floatWAV(_ samples: [Float], channels: Int, list: [UInt8] = []) throws -> String {
        func u32(_ v: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(v).littleEndian, Array.init) }
        func u16(_ v: Int) -> [UInt8] { withUnsafeBytes(of: UInt16(v).littleEndian, Array.init) }
        let data = samples.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
        let format = u16(3) + u16(channels) + u32(16000) + u32(16000 * 4 * channels) + u16(4 * channels) + u16(32)
        let listChunk = list.isEmpty ? [] : Array("LIST".utf8) + u32(list.count) + list
        let chunks = Array("fmt ".utf8) + u32(format.count) + format + listChunk + Array("data".utf8) + u32(data.count) + data
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

    /// AudioFuzz finding (a timeout): a LIST chunk whose sub-chunk claims 0xFFFFFFFF bytes made libsndfile's header
    /// parser spin for ever inside `sf_open`. `RIFFListCheck` refuses it before libsndfile sees it, in bounded time.
    func testListSubChunkLargerThanItsListIsRefusedWithoutHanging() {
        let path = Fixtures.path("fuzz-regressions/audio/list-subchunk-overrun.wav")
        let started = Date()
        XCTAssertThrowsError(try AudioDecoder.decode(path: path)) {
            XCTAssertTrue("\($0)".contains("LIST chunk at byte 36"), "\($0)")
            XCTAssertTrue("\($0)".contains("list-subchunk-overrun.wav"), "\($0)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
    }

    /// The check only refuses what cannot be right: a well-formed LIST INFO chunk (a title, an odd-sized value
    /// padded to even) decodes as before.
    func testWellFormedListChunkStillDecodes() throws {
        func u32(_ v: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(v).littleEndian, Array.init) }
        let title = Array("a title".utf8) + [0]  // 8 bytes
        let artist = Array("ipet".utf8) + [0]  // 5 bytes, padded to 6
        let list = Array("INFO".utf8) + Array("INAM".utf8) + u32(title.count) + title
            + Array("IART".utf8) + u32(artist.count) + artist + [0]
        let path = try floatWAV([0.5, -0.5, 0.25, 0], channels: 1, list: list)
        let audio = try AudioDecoder.decode(path: path)
        XCTAssertEqual(audio.samples, [0.5, -0.5, 0.25, 0])
    }
}
