import AsyncHTTPClient
import Foundation
import IPETTestSupport
import NIOHTTP1
import XCTest

/// Every route and every status of `Formats/http-api.openapi.json`, each answer checked against the file, on real
/// `ipet serve` processes (one with an admin token and a 1 MB body limit, one without a token and with no queue,
/// one with a timeout too short for any request). The readiness 503 is in `ReadinessTests`.
final class ServerContractTests: XCTestCase {
    func testEveryRouteAndStatusMatchesTheOpenAPIFile() async throws {
        let contract = try OpenAPIContract()
        let token = "s3cret-token"
        let dir = Fixtures.temporaryDirectory("serve-contract")
        let tokenFile = dir.appendingPathComponent("token").path
        try (token + "\n").write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let clip = try DemoServer.bytes(DemoServer.clips[0])
        let keywords = try DemoServer.bytes(DemoServer.keywords)

        let status = try await DemoServer.with(["--pack", DemoServer.keywords, "--pack", "snd=\(DemoServer.sounds)",
                                                "--admin-token-file", tokenFile, "--max-body-mb", "1"]) { api, _ in
            func check(_ method: HTTPMethod, _ path: String, _ route: String, body: [UInt8]? = nil, token: String? = nil,
                       expect: Int, line: UInt = #line) async throws -> APIClient.Reply {
                let reply = try await api.send(method, path, body: body, token: token)
                XCTAssertEqual(reply.status, expect, "\(method) \(path): \(reply.text)", line: line)
                contract.check(method.rawValue, route, reply, line: line)
                return reply
            }
            _ = try await check(.GET, "/healthz", "/healthz", expect: 200)
            _ = try await check(.GET, "/readyz", "/readyz", expect: 200)
            let list = try await check(.GET, "/v1/packs", "/v1/packs", expect: 200)
            XCTAssertEqual((list.object["packs"] as? [[String: Any]])?.compactMap { $0["name"] as? String }, ["keywords", "snd"])

            let classified = try await check(.POST, "/v1/classify?pack=keywords&pack=snd&top_k=3&logits=true", "/v1/classify", body: clip, expect: 200)
            let results = classified.object["results"] as? [[String: Any]] ?? []
            XCTAssertEqual(results.compactMap { $0["pack"] as? String }, ["keywords", "snd"], "one result per pack, in request order")
            XCTAssertEqual((results.first?["top"] as? [Any])?.count, 3)
            _ = try await check(.POST, "/v1/classify?pack=keywords&window=0.5&hop=0.25&per_window=true", "/v1/classify", body: clip, expect: 200)
            let own = try await check(.POST, "/v1/classify?top_k=1", "/v1/classify", body: clip, expect: 200)
            XCTAssertEqual((own.object["results"] as? [[String: Any]])?.first?["pack"] as? String, "backbone", "no pack: the backbone's own head")
            for bad in ["/v1/classify?pack=keywords&top_k=-1", "/v1/classify?pack=keywords&window=abc", "/v1/classify?pack=keywords&hop=0",
                        "/v1/classify?pack=keywords&topk=3", "/v1/classify?pack=keywords&pack=keywords", "/v1/classify?pack=keywords&window=5"] {
                let reply = try await check(.POST, bad, "/v1/classify", body: clip, expect: 400)
                XCTAssertFalse((reply.object["error"] as? String ?? "").isEmpty)
            }
            let empty = try await check(.POST, "/v1/classify?pack=keywords", "/v1/classify", body: [], expect: 400)
            XCTAssertTrue((empty.object["error"] as? String ?? "").contains("empty"), empty.text)
            let garbage = try await check(.POST, "/v1/classify?pack=keywords", "/v1/classify", body: Array("not audio at all".utf8), expect: 400)
            XCTAssertTrue((garbage.object["error"] as? String ?? "").contains("cannot be decoded"), garbage.text)
            let unknown = try await check(.POST, "/v1/classify?pack=nope", "/v1/classify", body: clip, expect: 404)
            XCTAssertTrue((unknown.object["error"] as? String ?? "").contains("nope"))
            let big = [UInt8](repeating: 7, count: 2 << 20)
            _ = try await check(.POST, "/v1/classify?pack=keywords", "/v1/classify", body: big, expect: 413)

            _ = try await check(.POST, "/v1/embed?layer=2", "/v1/embed", body: clip, expect: 200)
            _ = try await check(.POST, "/v1/embed?pooled=true", "/v1/embed", body: clip, expect: 200)
            _ = try await check(.POST, "/v1/embed?pack=keywords", "/v1/embed", body: clip, expect: 400)    // no embedding head
            _ = try await check(.POST, "/v1/embed?layer=1&pooled=true", "/v1/embed", body: clip, expect: 400)
            _ = try await check(.POST, "/v1/embed?pack=nope", "/v1/embed", body: clip, expect: 404)
            _ = try await check(.POST, "/v1/embed", "/v1/embed", body: big, expect: 413)

            let route = "/v1/packs/{name}"
            _ = try await check(.PUT, "/v1/packs/extra", route, body: keywords, expect: 401)
            _ = try await check(.PUT, "/v1/packs/extra", route, body: keywords, token: "wrong", expect: 401)
            let created = try await check(.PUT, "/v1/packs/extra", route, body: keywords, token: token, expect: 201)
            let replaced = try await check(.PUT, "/v1/packs/extra", route, body: try DemoServer.bytes(DemoServer.sounds), token: token, expect: 200)
            XCTAssertGreaterThan(replaced.object["version"] as? Int ?? 0, created.object["version"] as? Int ?? 0)
            XCTAssertEqual((replaced.object["labels"] as? [String])?.first, "tone", "the replacement's labels")
            let malformed = try await check(.PUT, "/v1/packs/broken", route, body: Array("not a pack".utf8), token: token, expect: 400)
            XCTAssertTrue((malformed.object["error"] as? String ?? "").contains("broken"), malformed.text)
            _ = try await check(.PUT, "/v1/packs/broken", route, body: [], token: token, expect: 400)
            let mismatch = try await check(.PUT, "/v1/packs/other", route, body: try DemoServer.bytes(DemoServer.otherBackbonePack), token: token, expect: 409)
            let message = mismatch.object["error"] as? String ?? ""
            XCTAssertTrue(message.contains("sha256:") && message.contains("differ"), "names both fingerprints and what differs: \(message)")
            _ = try await check(.PUT, "/v1/packs/huge", route, body: big, token: token, expect: 413)
            _ = try await check(.DELETE, "/v1/packs/extra", route, token: "wrong", expect: 401)
            _ = try await check(.DELETE, "/v1/packs/extra", route, token: token, expect: 204)
            _ = try await check(.DELETE, "/v1/packs/extra", route, token: token, expect: 404)
            _ = try await check(.POST, "/v1/classify?pack=extra", "/v1/classify", body: clip, expect: 404)

            let metrics = try await check(.GET, "/metrics", "/metrics", expect: 200)
            for name in ["ipet_http_requests_total{route=\"/v1/classify\",status=\"200\"}", "ipet_http_request_duration_seconds_bucket",
                         "ipet_queue_depth_requests", "ipet_batch_size_requests_bucket", "ipet_pack_requests_total{pack=\"keywords\"}",
                         "ipet_loaded_packs_count 2"] {
                XCTAssertTrue(metrics.text.contains(name), "metrics lack \(name)")
            }
            let notFound = try await api.send(.GET, "/no/such/route")
            XCTAssertEqual(notFound.status, 404)
            XCTAssertNotNil(notFound.object["error"] as? String, "even an unknown route answers {\"error\": ...}")
        }
        XCTAssertEqual(status, 0)

        // No admin token: pack changes are refused; no queue: every inference request is told to retry.
        try await DemoServer.with(["--pack", DemoServer.keywords, "--max-queue", "0"]) { api, _ in
            for (method, body) in [(HTTPMethod.PUT, keywords), (.DELETE, nil)] {
                let reply = try await api.send(method, "/v1/packs/keywords", body: body, token: token)
                XCTAssertEqual(reply.status, 403, reply.text)
                contract.check(method.rawValue, "/v1/packs/{name}", reply)
            }
            for path in ["/v1/classify?pack=keywords", "/v1/embed?layer=1"] {
                let reply = try await api.send(.POST, path, body: clip)
                XCTAssertEqual(reply.status, 503, reply.text)
                XCTAssertEqual(reply.headers.first(name: "Retry-After"), "1")
                contract.check("POST", String(path.prefix(while: { $0 != "?" })), reply)
            }
        }

        // A timeout shorter than any request: 504, and the server still answers afterwards.
        try await DemoServer.with(["--pack", DemoServer.keywords, "--request-timeout-s", "0.001"]) { api, _ in
            for path in ["/v1/classify?pack=keywords", "/v1/embed?layer=1"] {
                let reply = try await api.send(.POST, path, body: clip)
                XCTAssertEqual(reply.status, 504, reply.text)
                contract.check("POST", String(path.prefix(while: { $0 != "?" })), reply)
            }
            let health = try await api.send(.GET, "/healthz")
            XCTAssertEqual(health.status, 200)
        }

        // The readiness 503s are exercised by ReadinessTests; everything else must have been seen here.
        let notSeen = contract.unexercised.filter { !["GET /readyz 503", "GET /v1/packs 503"].contains($0) }
        XCTAssertEqual(notSeen, [], "documented but never exercised")
    }
}
