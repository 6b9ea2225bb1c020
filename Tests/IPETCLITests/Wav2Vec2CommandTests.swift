import Foundation
import IPETAudio
import IPETFormats
import IPETTestSupport
import XCTest

/// `ipet predict` and `ipet embed` on wav2vec 2.0 checkpoints, end to end against transformers' numbers
/// (Fixtures/wav2vec2/references). Clips are written as float WAV so decoding is exact.
final class Wav2Vec2CommandTests: XCTestCase {
    private var clipDir: URL!
    private let inputs = try! Fixtures.safetensors("wav2vec2/references/inputs.safetensors")

    override func setUpWithError() throws {
        clipDir = Fixtures.temporaryDirectory("w2v-clips")
        for clip in ["one_second", "clip_3p7s"] {
            try AudioFileWriter.write(interleaved: try inputs.floats("\(clip).waveform"), channels: 1, sampleRate: 16000,
                                      format: .wavFloat32, to: clipDir.appendingPathComponent("\(clip).wav").path)
        }
    }

    private func clip(_ name: String) -> String { clipDir.appendingPathComponent("\(name).wav").path }

    func testPredictMatchesTransformersLogits() throws {
        for fixture in ["ln-preln-seqcls", "gn-seqcls-wls"] {
            let reference = try Fixtures.safetensors("wav2vec2/references/\(fixture).safetensors")
            let result = try CommandRunner.run(["predict", "--backbone", Fixtures.path("wav2vec2/\(fixture)"), "--logits",
                                                clip("one_second"), clip("clip_3p7s")])
            XCTAssertEqual(result.status, 0, result.stderr)
            let records = try result.stdout.split(separator: "\n").map { try JSONParser.parse(String($0)) }
            XCTAssertEqual(records.count, 2)
            for (name, record) in zip(["one_second", "clip_3p7s"], records) {
                let got = record["logits"]!.array!.map { Float($0.double!) }
                XCTAssertLessThan(maxAbsDifference(got, try reference.floats("\(name).logits")), 1e-4, "\(fixture) \(name)")
            }
        }
    }

    /// Whole-clip wav2vec 2.0 runs are bounded: audio past the model's one-pass limit (5 min) gets an error record
    /// that says what to do, the other files still run, and `--window` scores it in windows.
    func testOverlongAudioIsRefusedWithAHintAndRunsInWindows() throws {
        let long = clipDir.appendingPathComponent("six_minutes.wav").path
        try AudioFileWriter.write(interleaved: syntheticAudio(seconds: 360, rate: 16000, channels: 1, seed: 7), channels: 1,
                                  sampleRate: 16000, format: .wavPCM16, to: long)
        let backbone = Fixtures.path("wav2vec2/gn-seqcls-wls")
        let refused = try CommandRunner.run(["predict", "--backbone", backbone, "--quiet", long, clip("one_second")])
        XCTAssertEqual(refused.status, 2, refused.stderr)
        let records = try refused.stdout.split(separator: "\n").map { try JSONParser.parse(String($0)) }
        XCTAssertEqual(records.count, 2)
        let message = records[0]["error"]?.string ?? ""
        XCTAssertTrue(message.contains("360.0 s") && message.contains("--window"), message)
        XCTAssertNotNil(records[1]["top"])
        let windowed = try CommandRunner.run(["predict", "--backbone", backbone, "--quiet", "--window", "90", "--per-window", long])
        XCTAssertEqual(windowed.status, 0, windowed.stderr)
        XCTAssertEqual(windowed.stdout.split(separator: "\n").count, 4)
    }

    func testPredictRefusesSpeakerCheckpointsAndPointsToEmbed() throws {
        let result = try CommandRunner.run(["predict", "--backbone", Fixtures.path("wav2vec2/ln-xvector"), clip("one_second")])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("ipet embed"), result.stderr)
    }

    func testEmbedWritesXVectorsKeyedByInputPath() throws {
        let reference = try Fixtures.safetensors("wav2vec2/references/ln-xvector.safetensors")
        let out = clipDir.appendingPathComponent("xvectors.safetensors").path
        let result = try CommandRunner.run(["embed", "--backbone", Fixtures.path("wav2vec2/ln-xvector"), "--output", out,
                                            clip("one_second"), clip("clip_3p7s")])
        XCTAssertEqual(result.status, 0, result.stderr)
        let file = try SafeTensorsFile(path: out)
        XCTAssertEqual(Set(file.tensorNames), [clip("one_second"), clip("clip_3p7s")])
        for name in ["one_second", "clip_3p7s"] {
            XCTAssertEqual(file.info(clip(name))?.shape, [24])
            XCTAssertLessThan(maxAbsDifference(try file.floats(clip(name)), try reference.floats("\(name).embeddings")), 1e-4, name)
        }
    }

    func testEmbedLayerIsTheMeanOfThatHiddenState() throws {
        let reference = try Fixtures.safetensors("wav2vec2/references/gn-postln.safetensors")
        let out = clipDir.appendingPathComponent("layer1.safetensors").path
        let result = try CommandRunner.run(["embed", "--backbone", Fixtures.path("wav2vec2/gn-postln"), "--layer", "1",
                                            "-o", out, clip("clip_3p7s")])
        XCTAssertEqual(result.status, 0, result.stderr)
        let states = try reference.floats("clip_3p7s.hidden_state.1")
        let shape = reference.info("clip_3p7s.hidden_state.1")!.shape
        let (t, d) = (shape[1], shape[2])
        let mean = (0..<d).map { j in Float((0..<t).reduce(0.0) { $0 + Double(states[$1 * d + j]) } / Double(t)) }
        XCTAssertLessThan(maxAbsDifference(try SafeTensorsFile(path: out).floats(clip("clip_3p7s")), mean), 1e-4)
    }

    func testEmbedReportsFailedFilesInMetadataAndExitStatus() throws {
        let out = clipDir.appendingPathComponent("partial.safetensors").path
        let bad = Fixtures.path("audio/bad_text.wav")
        let result = try CommandRunner.run(["embed", "--backbone", Fixtures.path("wav2vec2/gn-postln"), "-o", out, clip("one_second"), bad])
        XCTAssertEqual(result.status, 2)
        let file = try SafeTensorsFile(path: out)
        XCTAssertEqual(file.tensorNames, [clip("one_second")])
        let failed = try JSONParser.parse(file.metadataValue("failed")!)
        XCTAssertNotNil(failed[bad]?.string)
    }
}
