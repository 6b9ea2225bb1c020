import Foundation
import IPETFormats
import IPETTestSupport
import XCTest

/// Several packs on one backbone share everything before the first layer a pack changes: per input, the front end
/// (AST patch embedding; wav2vec 2.0 conv encoder, projection and positional convolution) runs once, and every pack
/// still gets exactly the numbers it gets alone. Counted by `IPET_PROFILE=1`'s calls column, not timed.
final class FrontEndSharingTests: XCTestCase {
    private func calls(_ stage: String, in stderr: String) -> Int? {
        stderr.split(separator: "\n").first { $0.hasPrefix(stage + " ") }?.split(separator: " ").dropLast().last.flatMap { Int($0) }
    }

    private func records(_ stdout: String) throws -> [JSONValue] {
        try stdout.split(separator: "\n").map { try JSONParser.parse(String($0)) }
    }

    private func check(backbone: String, packs: [String], stage: String, expectedCalls: Int, clips: [String]) throws {
        let all = try CommandRunner.run(["predict", "--quiet", "--logits", "--backbone", backbone] + packs.flatMap { ["--pack", $0] } + clips,
                                        environment: ["IPET_PROFILE": "1"])
        XCTAssertEqual(all.status, 0, all.stderr)
        XCTAssertEqual(calls(stage, in: all.stderr), expectedCalls, all.stderr)
        let together = try records(all.stdout)
        for pack in packs {
            let alone = try CommandRunner.run(["predict", "--quiet", "--logits", "--backbone", backbone, "--pack", pack] + clips)
            let name = URL(fileURLWithPath: pack).deletingPathExtension().lastPathComponent
            XCTAssertEqual(together.filter { $0["pack"]?.string == name }, try records(alone.stdout), "\(name): the same numbers as alone")
        }
    }

    func testThreeWav2Vec2PacksRunTheConvEncoderOncePerInput() throws {
        let clips = ["tone440_2s_16k.wav", "chirp_6s_16k.wav", "silence_1s_16k.wav"].map { Fixtures.path("audio/\($0)") }
            .filter { FileManager.default.fileExists(atPath: $0) }
        XCTAssertGreaterThanOrEqual(clips.count, 2)
        let packs = ["w2v2-gn-postln", "w2v2-gn-postln-residual", "w2v2-gn-postln-speaker"].map { Fixtures.path("packs/\($0).ipet") }
        try check(backbone: Fixtures.path("wav2vec2/gn-postln"), packs: packs, stage: "w2v.conv_encoder", expectedCalls: clips.count, clips: clips)
    }

    func testASTPacksShareThePatchEmbeddingWhenTheirInputIsTheSame() throws {
        let clips = ["tone440_2s_16k.wav", "chirp_6s_16k.wav"].map { Fixtures.path("audio/\($0)") }
        let same = ["ast-tiny-a", "ast-tiny-a-f16", "ast-tiny-a-speaker"].map { Fixtures.path("packs/\($0).ipet") }
        // 512-frame packs (5.12 s): one front end per window, one window per clip (the chirp's 0.88 s tail is under
        // half a window).
        let windows = 2
        try check(backbone: Fixtures.path("ast/tiny-a"), packs: same, stage: "ast.patch_embedding", expectedCalls: windows, clips: clips)
        // A 256-frame pack has other features and positions: its own front end.
        let all = try CommandRunner.run(["predict", "--quiet", "--backbone", Fixtures.path("ast/tiny-a")]
                                        + (same + [Fixtures.path("packs/ast-tiny-a-short.ipet")]).flatMap { ["--pack", $0] } + clips,
                                        environment: ["IPET_PROFILE": "1"])
        XCTAssertEqual(all.status, 0, all.stderr)
        XCTAssertGreaterThan(calls("ast.patch_embedding", in: all.stderr) ?? 0, windows, all.stderr)
    }
}
