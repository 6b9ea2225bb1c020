import Foundation
import IPETFormats
import IPETTestSupport
import XCTest

/// `ipet predict --pack`, `ipet pack inspect` and `ipet pack verify` as users run them.
final class PackCommandTests: XCTestCase {
    private func lines(_ text: String) throws -> [JSONValue] {
        try text.split(separator: "\n").map { try JSONParser.parse(String($0)) }
    }

    func testThreePacksInOneRunLoadTheBackboneOnceAndEqualSinglePackRuns() throws {
        let dir = Fixtures.temporaryDirectory("packs-folder")
        for clip in ["tone440_2s_16k.wav", "short_0p5s_16k.wav", "stereo_44k1.wav"] {
            try FileManager.default.copyItem(atPath: Fixtures.path("audio/\(clip)"), toPath: dir.appendingPathComponent(clip).path)
        }
        let packs = ["ast-tiny-a", "ast-tiny-a-short", "ast-tiny-a-long"].map { Fixtures.path("packs/\($0).ipet") }
        let backbone = Fixtures.path("ast/tiny-a")
        let all = try CommandRunner.run(["predict", "-v", "--logits", "--backbone", backbone] + packs.flatMap { ["--pack", $0] } + [dir.path])
        XCTAssertEqual(all.status, 0, all.stderr)
        XCTAssertEqual(all.stderr.components(separatedBy: "loaded backbone").count - 1, 1, all.stderr)
        let records = try lines(all.stdout)
        XCTAssertEqual(records.count, 9)
        for pack in packs {
            let single = try CommandRunner.run(["predict", "--logits", "--backbone", backbone, "--pack", pack, dir.path])
            XCTAssertEqual(single.status, 0, single.stderr)
            let name = URL(fileURLWithPath: pack).deletingPathExtension().lastPathComponent
            let mine = records.filter { $0["pack"]?.string == name }
            XCTAssertEqual(mine, try lines(single.stdout), name)
            XCTAssertEqual(mine.count, 3)
        }
    }

    func testPackInspectShowsCountsAndExpectedFingerprint() throws {
        let result = try CommandRunner.run(["pack", "inspect", "--json", Fixtures.path("packs/ast-esc50-shape.ipet")])
        XCTAssertEqual(result.status, 0, result.stderr)
        let report = try JSONParser.parse(result.stdout)
        XCTAssertEqual(report["parameters"]?.int, 676_274)
        XCTAssertEqual(report["prompt_tokens"]?.int, 4)
        XCTAssertEqual(report["adapter_bottleneck"]?.int, 32)
        XCTAssertLessThan(report["bytes"]!.int!, 1_500_000)
        XCTAssertEqual(report["fingerprint"]?.string?.hasPrefix("sha256:"), true)
        let text = try CommandRunner.run(["pack", "inspect", Fixtures.path("packs/ast-esc50-shape.ipet")])
        XCTAssertTrue(text.stdout.contains("676274 (676.3 k) = prompts 36864 + adapters 599424 + head 39986"), text.stdout)
    }

    func testPackVerifyAcceptsItsBackboneAndRefusesAnother() throws {
        let ok = try CommandRunner.run(["pack", "verify", Fixtures.path("packs/ast-tiny-a.ipet"), "--backbone", Fixtures.path("ast/tiny-a-5x")])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(ok.stdout.hasPrefix("OK"))
        let wrong = try CommandRunner.run(["pack", "verify", Fixtures.path("packs/ast-tiny-a-wrong-fingerprint.ipet"), "--backbone", Fixtures.path("ast/tiny-a")])
        XCTAssertEqual(wrong.status, 1)
        XCTAssertTrue(wrong.stderr.contains("values only"), wrong.stderr)
        let sizes = try CommandRunner.run(["pack", "verify", Fixtures.path("packs/ast-tiny-a.ipet"), "--backbone", Fixtures.path("ast/tiny-b")])
        XCTAssertEqual(sizes.status, 1)
        XCTAssertTrue(sizes.stderr.contains("sizes differ"), sizes.stderr)
    }

    func testPredictRefusesAMismatchedPackUnlessAllowed() throws {
        let args = ["predict", "--backbone", Fixtures.path("ast/tiny-a"), "--pack", Fixtures.path("packs/ast-tiny-a-wrong-fingerprint.ipet"),
                    Fixtures.path("audio/tone440_2s_16k.wav")]
        let refused = try CommandRunner.run(args)
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("--allow-mismatch"), refused.stderr)
        let allowed = try CommandRunner.run(args + ["--allow-mismatch"])
        XCTAssertEqual(allowed.status, 0, allowed.stderr)
        XCTAssertTrue(allowed.stderr.contains("warning"), allowed.stderr)
    }

    func testInspectPrintsTheFingerprintForFoldersAndPacks() throws {
        let folder = try CommandRunner.run(["inspect", Fixtures.path("wav2vec2/gn-postln")])
        XCTAssertTrue(folder.stdout.contains("fingerprint:  sha256:12e7860f052a1d7c5bf4cd7dca9b8d5bb5ca2a57864f830f80a69c9460d93123"), folder.stdout)
        let pack = try CommandRunner.run(["inspect", Fixtures.path("packs/w2v2-gn-postln.ipet")])
        XCTAssertTrue(pack.stdout.contains("expects:      sha256:12e7860f"), pack.stdout)
    }
}
