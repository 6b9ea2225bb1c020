import Foundation

/// Failure messages collected from several threads (a test body run under `concurrentPerform`), asserted on after.
public final class FailureLog: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []

    public init() {}

    public func record(_ message: String) { lock.withLock { stored.append(message) } }
    public var messages: [String] { lock.withLock { stored } }
}
