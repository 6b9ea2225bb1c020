import AsyncHTTPClient
import Foundation
import IPETTestSupport
import XCTest

/// Hot swap without loss: 200 classify requests from 16 concurrent clients over three packs while an admin client
/// replaces one pack twice and deletes and re-adds another. Every request is answered; each answer is 200 (or 404
/// for the deleted pack, only while it was gone) and equals exactly the pack version it names.
final class HotSwapConcurrencyTests: XCTestCase {
    /// What a request saw.
    struct Outcome: Sendable {
        let pack: String
        let clip: String
        let status: Int
        let version: Int?
        let labels: [String]
        let logits: [Float]
        let sent: ContinuousClock.Instant
        let received: ContinuousClock.Instant
    }

    func testRequestsDuringReplaceAndDeleteAreNeverLostOrMixed() async throws {
        let token = "swap-token"
        let dir = Fixtures.temporaryDirectory("serve-swap")
        let tokenFile = dir.appendingPathComponent("token").path
        try token.write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let keywordsBytes = try DemoServer.bytes(DemoServer.keywords)
        let soundsBytes = try DemoServer.bytes(DemoServer.sounds)
        let clips = DemoServer.clips
        try await DemoServer.with(["--pack", "a=\(DemoServer.keywords)", "--pack", "b=\(DemoServer.sounds)", "--pack", "c=\(DemoServer.keywords)",
                                   "--admin-token-file", tokenFile, "--max-queue", "64"]) { api, _ in
            // Reference answers of each pack file on each clip, from a quiet server.
            var reference: [String: [String: (labels: [String], logits: [Float])]] = [:]   // content → clip → answer
            for (content, name) in [("keywords", "a"), ("sounds", "b")] {
                for clip in clips {
                    let reply = try await api.send(.POST, "/v1/classify?pack=\(name)&logits=true&top_k=1", body: try DemoServer.bytes(clip))
                    let result = try XCTUnwrap((reply.object["results"] as? [[String: Any]])?.first)
                    reference[content, default: [:]][clip] = ((result["top"] as! [[String: Any]]).map { $0["label"] as! String },
                                                              (result["logits"] as! [Double]).map(Float.init))
                }
            }
            // Which content each version of each name holds.
            let initial = try await api.send(.GET, "/v1/packs")
            var contentOfVersion: [Int: String] = [:]
            for pack in initial.object["packs"] as? [[String: Any]] ?? [] {
                contentOfVersion[pack["version"] as! Int] = (pack["labels"] as! [String]).first == "tone" ? "sounds" : "keywords"
            }
            let versions = VersionBook(contentOfVersion)

            let counter = RequestCounter(total: 200)
            let outcomes = try await withThrowingTaskGroup(of: [Outcome].self) { group -> [Outcome] in
                for worker in 0..<16 {
                    group.addTask {
                        var mine: [Outcome] = []
                        var rng = TestRandom(seed: UInt64(worker + 1))
                        while let _ = counter.next() {
                            let pack = ["a", "b", "c"][rng.int(0..<3)]
                            let clip = clips[rng.int(0..<clips.count)]
                            let sent = ContinuousClock.now
                            let reply = try await api.send(.POST, "/v1/classify?pack=\(pack)&logits=true&top_k=1", body: try DemoServer.bytes(clip))
                            let result = (reply.object["results"] as? [[String: Any]])?.first
                            mine.append(Outcome(pack: pack, clip: clip, status: reply.status, version: result?["version"] as? Int,
                                                labels: (result?["top"] as? [[String: Any]] ?? []).compactMap { $0["label"] as? String },
                                                logits: (result?["logits"] as? [Double] ?? []).map(Float.init), sent: sent, received: .now))
                        }
                        return mine
                    }
                }
                // The admin: replace "a" twice (sounds, then keywords again), delete "b" and add it back.
                group.addTask {
                    try await Task.sleep(for: .milliseconds(30))
                    for (bytes, content) in [(soundsBytes, "sounds"), (keywordsBytes, "keywords")] {
                        let put = try await api.send(.PUT, "/v1/packs/a", body: bytes, token: token)
                        XCTAssertEqual(put.status, 200, put.text)
                        versions.record(put.object["version"] as? Int ?? -1, content)
                        try await Task.sleep(for: .milliseconds(40))
                    }
                    versions.deleteStarted = .now
                    let deleted = try await api.send(.DELETE, "/v1/packs/b", token: token)
                    XCTAssertEqual(deleted.status, 204)
                    try await Task.sleep(for: .milliseconds(40))
                    let readd = try await api.send(.PUT, "/v1/packs/b", body: soundsBytes, token: token)
                    XCTAssertEqual(readd.status, 201, readd.text)
                    versions.record(readd.object["version"] as? Int ?? -1, "sounds")
                    versions.readdFinished = .now
                    return []
                }
                var all: [Outcome] = []
                for try await part in group { all += part }
                return all
            }

            XCTAssertEqual(outcomes.count, 200, "every request answered exactly once")
            var seenVersionsOfA = Set<Int>()
            for o in outcomes {
                if o.status == 404 {
                    XCTAssertEqual(o.pack, "b", "only the deleted pack may be missing")
                    if let deleted = versions.deleteStarted { XCTAssertGreaterThan(o.received, deleted, "404 before the delete") }
                    if let readded = versions.readdFinished { XCTAssertLessThan(o.sent, readded, "404 after the re-add") }
                    continue
                }
                XCTAssertEqual(o.status, 200)
                guard let version = o.version, let content = versions.content(of: version) else {
                    XCTFail("answer names an unknown version \(String(describing: o.version))")
                    continue
                }
                if o.pack == "a" { seenVersionsOfA.insert(version) }
                let expected = try XCTUnwrap(reference[content]?[o.clip])
                XCTAssertEqual(o.labels, expected.labels, "\(o.pack) v\(version) \(o.clip)")
                XCTAssertEqual(o.logits.count, expected.logits.count)
                XCTAssertLessThanOrEqual(maxAbsDifference(o.logits, expected.logits), 1e-5, "\(o.pack) v\(version) equals its version's pack")
            }
            XCTAssertTrue(outcomes.contains { $0.pack == "a" }, "pack a was asked for")
            let list = try await api.send(.GET, "/v1/packs")
            XCTAssertEqual((list.object["packs"] as? [[String: Any]])?.compactMap { $0["name"] as? String }, ["a", "b", "c"])
        }
    }
}

/// Hands out request numbers to workers until `total` are taken.
final class RequestCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    let total: Int
    var taken: Int {
        lock.lock()
        defer { lock.unlock() }
        return count
    }
    init(total: Int) { self.total = total }
    func next() -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard count < total else { return nil }
        count += 1
        return count
    }
}

/// Which pack file each version number holds, and when the delete window opened and closed.
final class VersionBook: @unchecked Sendable {
    private let lock = NSLock()
    private var contents: [Int: String]
    var deleteStarted: ContinuousClock.Instant?
    var readdFinished: ContinuousClock.Instant?
    init(_ contents: [Int: String]) { self.contents = contents }
    func record(_ version: Int, _ content: String) {
        lock.lock()
        contents[version] = content
        lock.unlock()
    }
    func content(of version: Int) -> String? {
        lock.lock()
        defer { lock.unlock() }
        return contents[version]
    }
}
