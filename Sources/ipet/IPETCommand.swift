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
        subcommands: [PredictCommand.self, EvalCommand.self, EmbedCommand.self, VerifyCommand.self, ConvertCommand.self, InspectCommand.self, PackCommand.self, BenchCommand.self])
}

/// Options every compute command shares.
struct ComputeOptions: ParsableArguments {
    @Option(help: "Threads for computation (0 = one per core). BLAS and our own loops share this budget.")
    var threads: Int = 0

    @Flag(name: .shortAndLong, help: "Log progress details (backbone loads, timings) on standard error.")
    var verbose = false

    func validate() throws {
        guard threads >= 0 else { throw ValidationError("--threads must be 0 (all cores) or a positive number") }
    }

    func apply() {
        ComputeThreads.configure(threads)
        if StageTimer.enabled {
            atexit { FileHandle.standardError.write(Data((StageTimer.report() + "\n").utf8)) }
        }
        let level: Logger.Level = verbose ? .info : .warning
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
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
