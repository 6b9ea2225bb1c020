import Foundation
import IPETFormats
import IPETTestSupport
import XCTest

/// Speaker packs end to end: `ipet embed --pack` (IPET's 5-segment protocol) and `ipet verify --trials` against
/// the PyTorch IPET reference (tools/make_speaker_fixtures.py → Fixtures/speaker). Tolerance 1e-4.
final class SpeakerPackCommandTests: XCTestCase {
    let cases = [("ast-tiny-a-speaker", "ast/tiny-a"), ("w2v2-gn-postln-speaker", "wav2vec2/gn-postln")]

    func testSegmentEmbeddingsMatchTheReference() throws {
        for (pack, backbone) in cases {
            let reference = try Fixtures.safetensors("speaker/\(pack).safetensors")
            let out = Fixtures.temporaryDirectory("spk").appendingPathComponent("e.safetensors").path
            let files = reference.tensorNames.map { Fixtures.path("audio/\($0)") }
            let result = try CommandRunner.run(["embed", "--backbone", Fixtures.path(backbone), "--pack", Fixtures.path("packs/\(pack).ipet"), "-o", out] + files)
            XCTAssertEqual(result.status, 0, result.stderr)
            let got = try SafeTensorsFile(path: out)
            for (name, file) in zip(reference.tensorNames, files) {
                XCTAssertEqual(got.info(file)?.shape, reference.info(name)?.shape, "\(pack) \(name)")
                XCTAssertLessThan(maxAbsDifference(try got.floats(file), try reference.floats(name)), 1e-4, "\(pack) \(name)")
            }
        }
    }

    func testVerifyScoresTrialsLikeTheReference() throws {
        for (pack, backbone) in cases {
            let expected = try JSONFile.read(Fixtures.path("speaker/\(pack)-scores.json"))
            for rule in ["ipet", "cosine"] {
                let dir = Fixtures.temporaryDirectory("verify")
                let scores = dir.appendingPathComponent("scores.txt").path
                let cache = dir.appendingPathComponent("cache.safetensors").path
                let args = ["verify", "--backbone", Fixtures.path(backbone), "--pack", Fixtures.path("packs/\(pack).ipet"),
                            "--trials", Fixtures.path("speaker/\(pack)-trials.txt"), "--audio-root", Fixtures.path("audio"),
                            "--embeddings", cache, "--scoring", rule, "--output", scores, "--json"]
                let result = try CommandRunner.run(args)
                XCTAssertEqual(result.status, 0, result.stderr)
                let metrics = try JSONParser.parse(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
                XCTAssertEqual(metrics["trials"]?.int, 21)
                let got = try String(contentsOfFile: scores, encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("#") }
                    .map { Float($0.split(separator: " ")[1])! }
                let want = expected[rule]!.array!.map { Float($0.double!) }
                XCTAssertLessThan(maxAbsDifference(got, want), 1e-4, "\(pack) \(rule)")
                // Re-scoring from the cache needs no backbone.
                let again = try CommandRunner.run(["verify", "--trials", Fixtures.path("speaker/\(pack)-trials.txt"), "--embeddings", cache,
                                                   "--scoring", rule, "--json"])
                XCTAssertEqual(again.status, 0, again.stderr)
                XCTAssertEqual(try JSONParser.parse(again.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), metrics)
            }
        }
    }
}
