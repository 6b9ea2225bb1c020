import Foundation
import Hummingbird
import IPETFormats

/// The HTTP API (`Formats/http-api.md`): each route reads its query and body, calls one `InferenceService` method
/// and encodes the answer as JSON. Limits, batching and pack rules live in the service.
struct ServerRoutes: Sendable {
    let service: InferenceService

    func register(on router: Router<BasicRequestContext>) {
        router.get("/healthz") { _, _ in Self.json(.object([("status", .string("alive"))])) }
        router.get("/readyz") { _, _ in
            guard service.isReady else { throw ServerError(.serviceUnavailable, "the backbone is still loading", retryAfter: 1) }
            return Self.json(.object([("status", .string("ready"))]))
        }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: service.metrics.text())))
        }
        router.post("/v1/classify") { request, _ in
            let query = try ClassifyQuery(QueryParameters(request, allowed: ClassifyQuery.names))
            let audio = try await body(of: request)
            return Self.json(try await service.classify(audio: audio, query: query))
        }
        router.post("/v1/embed") { request, _ in
            let query = try EmbedQuery(QueryParameters(request, allowed: EmbedQuery.names))
            let audio = try await body(of: request)
            return Self.json(try await service.embed(audio: audio, query: query))
        }
        router.get("/v1/packs") { _, _ in Self.json(try await service.listPacks()) }
        router.put("/v1/packs/:name") { request, context in
            try service.authorize(request.headers[.authorization])
            let name = try context.parameters.require("name")
            let bytes = try await body(of: request)
            let (answer, created) = try await service.putPack(name: name, bytes: bytes)
            return Self.json(answer, status: created ? .created : .ok)
        }
        router.delete("/v1/packs/:name") { request, context in
            try service.authorize(request.headers[.authorization])
            try await service.deletePack(name: try context.parameters.require("name"))
            return Response(status: .noContent)
        }
    }

    /// The request body, refused with 413 as soon as it is known to be too large: from its Content-Length before
    /// reading anything, else while streaming, so an oversized upload is never held in memory.
    func body(of request: Request) async throws -> [UInt8] {
        let limit = service.configuration.maxBodyBytes
        let tooLarge = ServerError(.contentTooLarge, "the body is larger than the server's limit of \(limit) bytes")
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit { throw tooLarge }
        var bytes: [UInt8] = []
        for try await chunk in request.body {
            guard bytes.count + chunk.readableBytes <= limit else { throw tooLarge }
            bytes += chunk.readableBytesView
        }
        return bytes
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(string: value.compactText + "\n")))
    }
}
