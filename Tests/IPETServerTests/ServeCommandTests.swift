import AsyncHTTPClient
import Foundation
import IPETTestSupport
import XCTest

/// The command line of `ipet serve`: packs from a folder, names, and refusals before anything listens.
final class ServeCommandTests: XCTestCase {
    func testPacksDirLoadsEveryPackNamedAfterItsFileStem() async throws {
        let dir = Fixtures.temporaryDirectory("serve-packs-dir")
        try FileManager.default.copyItem(atPath: DemoServer.keywords, toPath: dir.appendingPathComponent("kw.ipet").path)
        try FileManager.default.copyItem(atPath: DemoServer.sounds, toPath: dir.appendingPathComponent("snd.ipet").path)
        try Data("not a pack, and not loaded".utf8).write(to: dir.appendingPathComponent("notes.txt"))
        let status = try await DemoServer.with(["--packs-dir", dir.path, "--pack", "extra=\(DemoServer.keywords)"]) { api, _ in
            let list = try await api.send(.GET, "/v1/packs")
            XCTAssertEqual((list.object["packs"] as? [[String: Any]])?.compactMap { $0["name"] as? String }, ["extra", "kw", "snd"])
        }
        XCTAssertEqual(status, 0)
    }

    func testRefusesDuplicateNamesAndBadPacksBeforeListening() throws {
        let duplicate = try CommandRunner.run(["serve", "--backbone", DemoServer.backbone, "--port", "0",
                                               "--pack", "a=\(DemoServer.keywords)", "--pack", "a=\(DemoServer.sounds)"], timeout: 60)
        XCTAssertEqual(duplicate.status, 1)
        XCTAssertTrue(duplicate.stderr.contains("a second pack named \"a\""), duplicate.stderr)
        XCTAssertFalse(duplicate.stderr.contains("listening"))
        let mismatch = try CommandRunner.run(["serve", "--backbone", DemoServer.backbone, "--port", "0",
                                              "--pack", DemoServer.otherBackbonePack], timeout: 60)
        XCTAssertEqual(mismatch.status, 1, mismatch.stderr)
        XCTAssertTrue(mismatch.stderr.hasPrefix("error: "), mismatch.stderr)
        XCTAssertFalse(mismatch.stderr.contains("listening"), mismatch.stderr)
    }
}
