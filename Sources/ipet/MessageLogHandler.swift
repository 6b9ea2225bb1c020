import Foundation
import IPETFormats
import Logging

/// How the library's log lines reach a user on standard error, in the tool's one message style: warnings as
/// `warning: …` and errors as `error: …` (one line, control characters escaped), details (`-v`) as `ipet: …`.
/// No timestamps: these are messages for people, not a log file.
struct MessageLogHandler: LogHandler {
    /// The level every handler uses: warnings by default, details with `-v` (set once the options are parsed).
    nonisolated(unsafe) static var level: Logger.Level = .warning

    var logLevel: Logger.Level {
        get { Self.level }
        set {}
    }
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let (level, message) = (event.level, event.message)
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        let details = all.isEmpty ? "" : " (" + all.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")"
        let prefix: String
        switch level {
        case .critical, .error: prefix = "error: "
        case .warning: prefix = "warning: "
        default: prefix = "ipet: "
        }
        FileHandle.standardError.write(Data((prefix + printableUntrusted("\(message)\(details)", limit: .max) + "\n").utf8))
    }
}
