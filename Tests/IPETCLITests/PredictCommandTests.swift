import Foundation
import IPETAudio
import IPETFormats
import IPETTestSupport
import XCTest

/// `ipet predict` as a user runs it.
final class PredictCommandTests: XCTestCase {
    private func lines(_ text: String) throws -> [JSONValue] {
        try text.split(separator: "\n").map { try JSONParser.parse(String($0)) }
    }

    func testFolderWithGoodAndBadFilesGivesOneLinePerFileAndExitStatus2() throws {
        let dir = Fixtures.temporaryDirectory()
        for clip in ["tone440_2s_16k.wav", "noise_3s_16k.flac", "stereo_44k1.wav", "bad_empty.wav", "bad_truncated.wav", "bad_text.wav"] {
            try FileManager.default.copyItem(atPath: Fixtures.path("audio/\(clip)"), toPath: dir.appendingPathComponent(clip).path)
        }
        try "not audio".write(to: dir.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)  // skipped: not audio
        let result = try CommandRunner.run(["predict", "--backbone", Fixtures.path("ast/tiny-a"), "--top-k", "3", "--logits", dir.path])
        XCTAssertEqual(result.status, 2, result.stderr)
        let records = try lines(result.stdout)
        XCTAssertEqual(records.count, 6)
        let byName = Dictionary(uniqueKeysWithValues: records.map { (URL(fileURLWithPath: $0["file"]!.string!).lastPathComponent, $0) })
        for bad in ["bad_empty.wav", "bad_truncated.wav", "bad_text.wav"] {
            XCTAssertNotNil(byName[bad]?["error"]?.string, bad)
            XCTAssertNil(byName[bad]?["top"], bad)
        }
        XCTAssertTrue(byName["bad_empty.wav"]!["error"]!.string!.contains("empty"))
        XCTAssertTrue(byName["bad_truncated.wav"]!["error"]!.string!.contains("truncated"))
        for good in ["tone440_2s_16k.wav", "noise_3s_16k.flac", "stereo_44k1.wav"] {
            let top = try XCTUnwrap(byName[good]?["top"]?.array, good)
            XCTAssertEqual(top.count, 3)
            XCTAssertEqual(byName[good]?["logits"]?.array?.count, 5)
            let scores = top.map { $0["score"]!.double! }
            XCTAssertEqual(scores, scores.sorted(by: >))
        }
        XCTAssertTrue(result.stderr.contains("3 of 6 files failed"), result.stderr)
    }

    /// Audio that decodes but overflows the features (float samples near 1e30) gets an error record, never NaN scores;
    /// the same file through `embed` fails by name too.
    func testOutOfRangeAudioGivesAnErrorRecordNotNaNScores() throws {
        let dir = Fixtures.temporaryDirectory()
        let loud = dir.appendingPathComponent("loud.wav").path
        try AudioFileWriter.write(interleaved: syntheticAudio(seconds: 1, rate: 16000, channels: 1, seed: 5).map { $0 * 1e30 },
                                  channels: 1, sampleRate: 16000, format: .wavFloat32, to: loud)
        let result = try CommandRunner.run(["predict", "--backbone", Fixtures.path("ast/tiny-a"), "--quiet", loud,
                                            Fixtures.path("audio/tone440_2s_16k.wav")])
        XCTAssertEqual(result.status, 2, result.stderr)
        let records = try lines(result.stdout)
        XCTAssertEqual(records.count, 2)
        XCTAssertTrue(records[0]["error"]?.string?.contains("not finite") ?? false, result.stdout)
        XCTAssertFalse(result.stdout.contains("null"), result.stdout)
        XCTAssertNotNil(records[1]["top"])
        let embed = try CommandRunner.run(["embed", "--backbone", Fixtures.path("ast/tiny-a"), "-o", dir.appendingPathComponent("e.safetensors").path, loud])
        XCTAssertNotEqual(embed.status, 0)
        XCTAssertTrue(embed.stderr.contains("loud.wav: the embedding is not finite"), embed.stderr)
    }

    /// A folder with no audio (or none matching --ext), or an empty manifest, is an error naming it, not a silent
    /// empty success.
    func testAFolderWithoutAudioIsAnError() throws {
        let dir = Fixtures.temporaryDirectory()
        try "not audio".write(to: dir.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
        let result = try CommandRunner.run(["predict", "--backbone", Fixtures.path("ast/tiny-a"), dir.path])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stdout, "")
        XCTAssertTrue(result.stderr.contains("\(dir.path): no audio files in this folder"), result.stderr)
        let filtered = try CommandRunner.run(["predict", "--backbone", Fixtures.path("ast/tiny-a"), "--ext", "mp3", Fixtures.path("demo/clips")])
        XCTAssertEqual(filtered.status, 1)
        XCTAssertTrue(filtered.stderr.contains("looked for .mp3"), filtered.stderr)
        let manifest = dir.appendingPathComponent("empty.csv")
        try "path,label\n".write(to: manifest, atomically: true, encoding: .utf8)
        let listed = try CommandRunner.run(["predict", "--backbone", Fixtures.path("ast/tiny-a"), manifest.path])
        XCTAssertEqual(listed.status, 1)
        XCTAssertTrue(listed.stderr.contains("empty.csv: the manifest lists no files"), listed.stderr)
    }

    func testLogitsMatchTransformersThroughTheWholePipeline() throws {
        // Decoding, resampling (44.1 kHz stereo and 8 kHz), fbank, model: end to end against the reference logits.
        let reference = try Fixtures.safetensors("ast/references/tiny-a.safetensors")
        let clips = ["tone440_2s_16k.wav", "noise_3s_16k.flac", "chirp_6s_16k.wav", "stereo_44k1.wav", "mono_8k.wav", "silence_1s_16k.wav"]
        let result = try CommandRunner.run(["predict", "--backbone", Fixtures.path("ast/tiny-a"), "--logits"] + clips.map { Fixtures.path("audio/\($0)") })
        XCTAssertEqual(result.status, 0, result.stderr)
        let records = try lines(result.stdout)
        XCTAssertEqual(records.count, clips.count)
        for (clip, record) in zip(clips, records) {
            let key = clip.split(separator: ".").first!
            let expected = try reference.floats("\(key).logits")
            let got = record["logits"]!.array!.map { Float($0.double!) }
            XCTAssertLessThan(maxAbsDifference(got, expected), 1e-4, clip)
        }
    }

    func testAllGoodFilesExitZeroAndWriteToOutputFile() throws {
        let out = Fixtures.temporaryDirectory().appendingPathComponent("out.jsonl").path
        let result = try CommandRunner.run(["predict", "--backbone", Fixtures.path("ast/tiny-b"), "--output", out,
                                            Fixtures.path("audio/tone440_2s_16k.wav")])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "")
        let records = try lines(try String(contentsOfFile: out, encoding: .utf8))
        XCTAssertEqual(records.count, 1)
        XCTAssertEqual(records[0]["top"]?.array?.count, 3)  // tiny-b has 3 labels; --top-k 5 lists all 3
        let sum = records[0]["top"]!.array!.map { $0["score"]!.double! }.reduce(0, +)
        XCTAssertEqual(sum, 1, accuracy: 1e-5)  // softmax head
    }
}

/// The table is for people: its columns stay aligned, whatever the names and windows.
final class TableFormatTests: XCTestCase {
    func testPerWindowRowsStayAlignedAndLongNamesAreCutAtTheFront() throws {
        let dir = Fixtures.temporaryDirectory()
        let long = dir.appendingPathComponent(String(repeating: "very-long-folder-name/", count: 4))
        try FileManager.default.createDirectory(at: long, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Fixtures.path("audio/chirp_6s_16k.wav"), toPath: long.appendingPathComponent("chirp.wav").path)
        let result = try CommandRunner.run(["predict", "--quiet", "--backbone", Fixtures.path("ast/tiny-b"), "--format", "table",
                                            "--per-window", "--top-k", "1", Fixtures.path("audio/tone440_2s_16k.wav"), dir.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 1 + 1 + 3)
        // The pack column starts at the same place on every line.
        let column = try XCTUnwrap(lines[0].range(of: "pack")).lowerBound.utf16Offset(in: lines[0])
        for line in lines.dropFirst() {
            XCTAssertEqual(try XCTUnwrap(line.range(of: "backbone")).lowerBound.utf16Offset(in: line), column, line)
        }
        XCTAssertTrue(lines.last!.hasPrefix("…"), "a name longer than the column keeps its end: \(lines.last!)")
        XCTAssertTrue(lines.last!.contains("chirp.wav [4.03-6.00 s]"), lines.last!)
    }
}
