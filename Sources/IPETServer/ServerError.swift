import Hummingbird

/// A request that cannot be answered as asked, with the HTTP status that says why; the message names what is
/// wrong and is sent as `{"error": message}`.
public struct ServerError: Error, Sendable, CustomStringConvertible {
    public let status: HTTPResponse.Status
    public let message: String
    /// Seconds after which a retry may succeed (503 when the queue is full or the backbone still loading).
    public var retryAfter: Int?

    public init(_ status: HTTPResponse.Status, _ message: String, retryAfter: Int? = nil) {
        self.status = status
        self.message = message
        self.retryAfter = retryAfter
    }

    public var description: String { "\(status.code): \(message)" }
}
