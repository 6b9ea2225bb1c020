import Foundation
import Hummingbird
import IPETFormats
import NIOHTTP1

/// Turns every failure into `{"error": "..."}` with its status (the service's `ServerError`s, Hummingbird's own
/// 404 for an unknown route, anything unexpected as 500), and counts and times every answer for `/metrics`.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let response: Response
        do {
            response = try await next(request, context)
        } catch let error as ServerError {
            var headers: HTTPFields = [:]
            if let after = error.retryAfter { headers[.retryAfter] = String(after) }
            response = Self.error(error.status, error.message, headers: headers)
        } catch let error as HTTPError {
            let message = error.status == .notFound ? "no route \(request.method.rawValue) \(request.uri.path)" : (error.body ?? error.status.reasonPhrase)
            response = Self.error(error.status, message, headers: [:])
        } catch let error as HTTPParserError {
            // A malformed request (a bad chunk-size line, say) found while its body streams in: the client's fault.
            response = Self.error(.badRequest, "malformed HTTP request: \(error)", headers: [:])
        } catch {
            response = Self.error(.internalServerError, "\(error)", headers: [:])
        }
        metrics.recordRequest(route: Self.route(of: request), status: response.status.code, duration: ContinuousClock.now - started)
        return response
    }

    static func error(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers,
                        body: .init(byteBuffer: ByteBuffer(string: JSONValue.object([("error", .string(message))]).compactText + "\n")))
    }

    /// The route pattern a path belongs to, for metric labels (a raw path would make one series per pack name or
    /// per scanner's guess).
    static func route(of request: Request) -> String {
        let path = request.uri.path
        if ["/healthz", "/readyz", "/metrics", "/v1/classify", "/v1/embed", "/v1/packs"].contains(path) { return path }
        if path.hasPrefix("/v1/packs/") { return "/v1/packs/{name}" }
        return "other"
    }
}
