import Foundation

/// Runs the built `ipet` executable as a child process, the way a user would.
public enum CommandRunner {
    public struct Result: Sendable {
        public let status: Int32
        public let stdout: String
        public let stderr: String
        /// True when the command was still running at the timeout and was killed.
        public var timedOut = false
    }

    /// The `ipet` binary next to the test bundle (SwiftPM builds both into the same products folder).
    public static var executable: URL {
        if let override = ProcessInfo.processInfo.environment["IPET_BINARY"] { return URL(fileURLWithPath: override) }
        var dir = Bundle.main.bundleURL
        for _ in 0..<3 {
            let candidate = dir.appendingPathComponent("ipet")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        let argv0 = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        return argv0.appendingPathComponent("ipet")
    }

    /// Runs `ipet args...`, optionally in `directory`, and collects its output. With a `timeout` (seconds) a command
    /// still running then is killed and reported with `timedOut` (so a test of "never hangs" fails instead of hanging).
    /// `launcher` runs `ipet` through another program (`["/usr/bin/taskset", "-c", "0"]`).
    public static func run(_ args: [String], directory: URL? = nil, environment: [String: String] = [:],
                           timeout: TimeInterval? = nil, launcher: [String] = []) throws -> Result {
        let process = Process()
        if let program = launcher.first {
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = Array(launcher.dropFirst()) + [executable.path] + args
        } else {
            process.executableURL = executable
            process.arguments = args
        }
        if let directory { process.currentDirectoryURL = directory }
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        nonisolated(unsafe) var killed = false
        let watchdog = DispatchWorkItem { [process] in
            if process.isRunning {
                killed = true
                kill(process.processIdentifier, SIGKILL)
            }
        }
        if let timeout { DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog) }
        // Drain both pipes concurrently so a chatty child cannot block on a full pipe.
        let group = DispatchGroup()
        nonisolated(unsafe) var outData = Data()
        nonisolated(unsafe) var errData = Data()
        group.enter()
        DispatchQueue.global().async {
            outData = out.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        errData = err.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        watchdog.cancel()
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self), timedOut: killed)
    }
}
