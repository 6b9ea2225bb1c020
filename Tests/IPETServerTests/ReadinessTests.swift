import AsyncHTTPClient
import Foundation
import IPETEngine
import IPETServer
import IPETTestSupport
import XCTest

/// While the backbone loads, the server already listens: `/readyz` and the routes that need the backbone answer
/// 503 with Retry-After, `/healthz` 200; once it is loaded, `/readyz` is 200. Runs the server in-process with a
/// loader held back by the test.
final class ReadinessTests: XCTestCase {
    func testReadyzIs503UntilTheBackboneIsLoaded() async throws {
        let contract = try OpenAPIContract()
        var configuration = ServerConfiguration()
        configuration.port = try Self.freePort()
        let release = DispatchSemaphore(value: 0)
        let announced = DispatchSemaphore(value: 0)
        let server = Task {
            try await InferenceServer.run(configuration: configuration, loader: {
                release.wait()
                return (try Backbone.load(DemoServer.backbone), [])
            }, onListening: { _ in announced.signal() })
        }
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let api = APIClient(base: "http://127.0.0.1:\(configuration.port)", client: client)
        var reply: APIClient.Reply?
        for _ in 0..<500 where reply == nil {   // at most 5 s for the socket to be bound
            reply = try? await api.send(.GET, "/readyz", timeout: .seconds(2))
            if reply == nil { try await Task.sleep(for: .milliseconds(10)) }
        }
        let loading = try XCTUnwrap(reply, "the server never listened")
        XCTAssertEqual(loading.status, 503)
        XCTAssertEqual(loading.headers.first(name: "Retry-After"), "1")
        contract.check("GET", "/readyz", loading)
        let packs = try await api.send(.GET, "/v1/packs")
        XCTAssertEqual(packs.status, 503)
        contract.check("GET", "/v1/packs", packs)
        let health = try await api.send(.GET, "/healthz")
        XCTAssertEqual(health.status, 200, "alive while loading")

        release.signal()
        XCTAssertEqual(announced.wait(timeout: .now() + 30), .success, "no listening announcement after loading")
        let ready = try await api.send(.GET, "/readyz")
        XCTAssertEqual(ready.status, 200)
        contract.check("GET", "/readyz", ready)
        try await client.shutdown()
        server.cancel()
        _ = try? await server.value
    }

    /// A port nothing listens on now (bound to port 0 and released).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw XCTSkip("cannot bind a loopback socket") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
