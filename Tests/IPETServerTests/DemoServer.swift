import AsyncHTTPClient
import Foundation
import IPETTestSupport

/// The demo's files, and a way to run a test body against a real `ipet serve` on them with a client that is
/// always shut down and a server that is always stopped.
enum DemoServer {
    static let backbone = Fixtures.path("demo/backbone")
    static let keywords = Fixtures.path("demo/packs/keywords.ipet")
    static let sounds = Fixtures.path("demo/packs/sounds.ipet")
    static let otherBackbonePack = Fixtures.path("packs/ast-tiny-a.ipet")
    static var clips: [String] {
        ["keywords", "sounds"].flatMap { folder in
            let dir = Fixtures.path("demo/clips/\(folder)")
            return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted().map { "\(dir)/\($0)" }
        }
    }

    static func bytes(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

    /// Starts `ipet serve --backbone demo ARGS`, runs `body`, stops the server; returns its exit status.
    @discardableResult
    static func with(_ args: [String], _ body: (APIClient, ServerProcess) async throws -> Void) async throws -> Int32? {
        let server = try ServerProcess(["--backbone", backbone, "--threads", "2"] + args)
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            try await body(APIClient(base: server.url, client: client), server)
        } catch {
            try? await client.shutdown()
            server.stop()
            throw error
        }
        try await client.shutdown()
        return server.stop()
    }
}
