import Foundation
import IPETAudio
import IPETTestSupport
import XCTest

/// `AudioDecoder.decode(bytes:name:)` (an upload held in memory, libsndfile's virtual I/O) must give exactly what
/// decoding the same bytes from a file gives: the same samples, or the same error, under every policy, with every
/// hostile-input check (`RIFFListCheck`, `RIFFDataChunk`, the frame limit, non-finite samples) still applied.
final class AudioDecoderMemoryTests: XCTestCase {
    /// Decodes `path` both ways with `decoder` and compares the outcomes.
    private func assertSameBothWays(_ path: String, _ decoder: AudioDecoder = AudioDecoder(), file: StaticString = #filePath,
                                    line: UInt = #line) throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let fromFile = Result { () throws(AudioError) in try decoder.decode(path: path) }
        let fromMemory = Result { () throws(AudioError) in try decoder.decode(bytes: bytes, name: path) }
        switch (fromFile, fromMemory) {
        case let (.success(a), .success(b)):
            XCTAssertEqual(a.sampleRate, b.sampleRate, path, file: file, line: line)
            XCTAssertEqual(a.sourceChannels, b.sourceChannels, path, file: file, line: line)
            XCTAssertEqual(a.samples.map(\.bitPattern), b.samples.map(\.bitPattern), "samples differ: \(path)", file: file, line: line)
        case let (.failure(a), .failure(b)):
            XCTAssertEqual(a, b, path, file: file, line: line)
        default:
            XCTFail("\(path): from the file \(fromFile), from memory \(fromMemory)", file: file, line: line)
        }
    }

    private func audioFiles(under relative: String) -> [String] {
        let root = Fixtures.path(relative)
        let names = FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String } ?? []
        return names.filter { ["wav", "flac", "ogg", "mp3", "opus"].contains(URL(fileURLWithPath: $0).pathExtension) }
            .sorted().map { root + "/" + $0 }
    }

    /// Every committed audio fixture (the reference clips, the broken ones, the fuzz regressions, the demo's clips),
    /// under both truncation policies and with a frame limit low enough to trip.
    func testCommittedFilesDecodeTheSameFromMemory() throws {
        let files = audioFiles(under: "audio") + audioFiles(under: "fuzz-regressions/audio") + audioFiles(under: "demo/clips")
        XCTAssertGreaterThan(files.count, 20)
        for path in files {
            try assertSameBothWays(path)
            try assertSameBothWays(path, AudioDecoder(truncation: .decodeAvailable))
            try assertSameBothWays(path, AudioDecoder(maximumFrames: 1000))
        }
    }

    /// Every container and codec libsndfile writes, whole and cut short at several points (truncated WAV data
    /// chunks, cut-off FLAC/OGG/MP3 streams), and empty.
    func testEveryFormatAndCutDecodesTheSameFromMemory() throws {
        let dir = Fixtures.temporaryDirectory("ipet-audio-memory")
        let samples = (0..<16000).map { Float(0.3 * sin(2 * Double.pi * 440 * Double($0) / 16000)) }
        for format in AudioFileWriter.Format.allCases {
            let path = dir.appendingPathComponent("\(format)").path
            try AudioFileWriter.write(interleaved: samples.flatMap { [$0, -$0] }, channels: 2, sampleRate: 16000, format: format, to: path)
            try assertSameBothWays(path)
            let whole = try Data(contentsOf: URL(fileURLWithPath: path))
            for fraction in [0.0, 0.01, 0.1, 0.5, 0.9] {
                let cut = dir.appendingPathComponent("\(format)-cut-\(fraction)").path
                try whole.prefix(Int(Double(whole.count) * fraction)).write(to: URL(fileURLWithPath: cut))
                try assertSameBothWays(cut)
                try assertSameBothWays(cut, AudioDecoder(truncation: .decodeAvailable))
            }
        }
    }

    /// Hand-made hostile headers: a data chunk claiming 2^31 bytes, a LIST sub-chunk overrunning its list, a float
    /// file holding NaN: refused (or decoded) the same way from memory.
    func testHostileHeadersAreRefusedTheSameFromMemory() throws {
        func u32(_ v: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(v).littleEndian, Array.init) }
        func u16(_ v: Int) -> [UInt8] { withUnsafeBytes(of: UInt16(v).littleEndian, Array.init) }
        func wav(format: [UInt8], extra: [UInt8] = [], dataSize: Int? = nil, data: [UInt8]) -> [UInt8] {
            let chunks = Array("fmt ".utf8) + u32(format.count) + format + extra + Array("data".utf8) + u32(dataSize ?? data.count) + data
            return Array("RIFF".utf8) + u32(4 + chunks.count) + Array("WAVE".utf8) + chunks
        }
        let pcm16 = u16(1) + u16(1) + u32(16000) + u32(32000) + u16(2) + u16(16)
        let float32 = u16(3) + u16(1) + u32(16000) + u32(64000) + u16(4) + u16(32)
        let nan = withUnsafeBytes(of: Float.nan.bitPattern.littleEndian, Array.init)
        let cases: [String: [UInt8]] = [
            "huge-data": wav(format: pcm16, dataSize: 0x7FFF_FFF0, data: [0x00, 0x10, 0x00, 0x20, 0x00, 0xF0, 0x00, 0xE0]),
            "list-overrun": wav(format: pcm16, extra: Array("LIST".utf8) + u32(12) + Array("INFO".utf8) + Array("INAM".utf8) + u32(0xFFFF_FFF0),
                                data: [0, 0, 0, 0]),
            "nan": wav(format: float32, data: [0, 0, 0, 0] + nan),
            "header-only": wav(format: pcm16, data: []),
            "riff-only": Array("RIFF".utf8) + u32(4) + Array("WAVE".utf8),
        ]
        let dir = Fixtures.temporaryDirectory("ipet-audio-memory")
        for (name, bytes) in cases.sorted(by: { $0.key < $1.key }) {
            let path = dir.appendingPathComponent("\(name).wav").path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            try assertSameBothWays(path)
            try assertSameBothWays(path, AudioDecoder(truncation: .decodeAvailable))
        }
        XCTAssertThrowsError(try AudioDecoder().decode(bytes: [], name: "upload")) {
            XCTAssertEqual(($0 as? AudioError)?.problem, .empty)
        }
    }
}
