import Foundation
import IPETTestSupport
import XCTest

/// A real `ipet serve` child process on a free loopback port, started the way a user or a script would: it waits
/// for the one listening line on standard error and reads the URL from it. Always stopped by its test (SIGTERM,
/// then SIGKILL after a bound), so no test leaves a server behind.
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    private(set) var url = ""
    private let lock = NSLock()
    private var stderrText = ""
    private let listening = DispatchSemaphore(value: 0)
    private let closed = DispatchSemaphore(value: 0)

    /// Starts `ipet serve ARGS --port 0` and waits (at most `timeout` seconds) for it to listen.
    init(_ args: [String], timeout: TimeInterval = 60) throws {
        process.executableURL = CommandRunner.executable
        process.arguments = ["serve"] + args + ["--port", "0", "--host", "127.0.0.1"]
        process.currentDirectoryURL = Fixtures.root
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        let err = Pipe()
        process.standardError = err
        try process.run()
        let handle = err.fileHandleForReading
        Thread.detachNewThread { [self] in
            var announced = false
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                lock.lock()
                stderrText += String(decoding: data, as: UTF8.self)
                let text = stderrText
                lock.unlock()
                if !announced, let line = text.split(separator: "\n").first(where: { $0.hasPrefix("ipet serve: listening on ") }) {
                    url = String(line.dropFirst("ipet serve: listening on ".count))
                    announced = true
                    listening.signal()
                }
            }
            if !announced { listening.signal() }
            closed.signal()
        }
        if listening.wait(timeout: .now() + timeout) == .timedOut || url.isEmpty {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw StartFailure(stderr: stderr)
        }
    }

    /// The server exited or stayed silent instead of printing its listening line (a failure, never a skip).
    struct StartFailure: Error, CustomStringConvertible {
        let stderr: String
        var description: String { "ipet serve did not start: \(stderr)" }
    }

    var stderr: String {
        lock.lock()
        defer { lock.unlock() }
        return stderrText
    }

    /// Sends `signal` and waits up to `timeout` seconds for the exit; returns the exit status (nil when it had to
    /// be killed).
    @discardableResult
    func stop(signal: Int32 = SIGTERM, timeout: TimeInterval = 30) -> Int32? {
        guard process.isRunning else { return process.terminationStatus }
        kill(process.processIdentifier, signal)
        let deadline = Date(timeIntervalSinceNow: timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        _ = closed.wait(timeout: .now() + 5)
        return process.terminationStatus
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
}
