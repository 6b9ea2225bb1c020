import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A real HTTP client (AsyncHTTPClient) for one server, returning status, headers and the parsed JSON body.
struct APIClient: Sendable {
    struct Reply: @unchecked Sendable {
        let status: Int
        let headers: HTTPHeaders
        let body: Data
        var json: Any? { try? JSONSerialization.jsonObject(with: body) }
        var object: [String: Any] { json as? [String: Any] ?? [:] }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    let base: String
    let client: HTTPClient

    func send(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, token: String? = nil,
              timeout: TimeAmount = .seconds(60)) async throws -> Reply {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        let response = try await client.execute(request, timeout: timeout)
        let bytes = try await response.body.collect(upTo: 64 << 20)
        return Reply(status: Int(response.status.code), headers: response.headers, body: Data(bytes.readableBytesView))
    }
}
