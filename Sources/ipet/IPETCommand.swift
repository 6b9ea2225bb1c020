import ArgumentParser
import Foundation
import IPETFormats
import IPETTensor
import Logging

@main
struct IPETCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ipet",
        abstract: "Convert audio-transformer checkpoints and run IPET-tuned audio models on the CPU.",
        version: VersionReport.text,
        subcommands: [PredictCommand.self, ServeCommand.self, EvalCommand.self, EmbedCommand.self, VerifyCommand.self, TrainCommand.self, ConvertCommand.self, InspectCommand.self, PackCommand.self, BenchCommand.self])

    /// Every command speaks in one style on standard error (`MessageLogHandler`); `-v` raises the level later.
    static func main() {
        StandardDescriptors.reserve()
        LoggingSystem.bootstrap { _ in MessageLogHandler() }
        var command: ParsableCommand
        do { command = try parseAsRoot() } catch { exit(withError: error) }
        do { try command.run() } catch { exit(withError: error) }
    }
}

/// Prints `error: <message>` on stderr and exits with status 1: one line that names the file and the problem.
func fail(_ error: Error) -> ExitCode {
    // Messages can quote file contents: control characters (a newline, an escape sequence that would recolour the
    // terminal) are escaped so an error stays one harmless line.
    FileHandle.standardError.write(Data("error: \(printableUntrusted(CommandError.message(for: error), limit: .max))\n".utf8))
    return ExitCode(1)
}

/// Writes text to standard output without buffering surprises; a failed write (full disk, closed pipe) ends the
/// command with status 1 and a message instead of a crash.
func emit(_ text: String) {
    standardOutput.write(text)
}

private let standardOutput = OutputSink()
