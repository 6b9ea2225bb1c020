import ArgumentParser
import Foundation
import IPETEngine
import IPETFormats
import IPETTensor

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Classify audio files with a backbone's head; one JSON line per file.",
        discussion: """
            INPUT are files or folders (searched recursively for audio files). Each output line is
              {"file": "...", "top": [{"label": "...", "score": 0.87}, ...]}
            with "logits" added by --logits. A file that fails gives {"file": "...", "error": "..."} and the run
            goes on; the exit status is 0 when every file worked and 2 when some failed.
            """)

    @Option(help: "A Hugging Face model folder (config.json + model.safetensors) or a converted file.")
    var backbone: String

    @Option(name: .customLong("top-k"), help: "How many labels to list per file.")
    var topK: Int = 5

    @Flag(help: "Include the raw logits.")
    var logits = false

    @Flag(help: "Include per-file timings (feature extraction and model, in seconds).")
    var timing = false

    @Option(help: "Scores: sigmoid (multi-label), softmax, or none (raw logits). Default: from the head.")
    var activation: ScoreActivation?

    @Option(name: .shortAndLong, help: "Write JSON lines to this file instead of standard output.")
    var output: String?

    @OptionGroup var compute: ComputeOptions

    @Argument(help: "Audio files or folders.")
    var inputs: [String]

    func validate() throws {
        guard topK >= 0 else { throw ValidationError("--top-k must be zero or more") }
        guard !inputs.isEmpty else { throw ValidationError("give at least one audio file or folder") }
    }

    func run() throws {
        compute.apply()
        let classifier: Classifier
        let files: [String]
        let sink: OutputSink
        do {
            classifier = try Classifier(backbone: try Backbone.load(backbone), activation: activation)
            files = try AudioInput.expand(inputs)
            sink = try OutputSink(path: output)
        } catch {
            throw fail(error)
        }
        let workspace = Workspace()
        var failures = 0
        for file in files {
            var record: [(key: String, value: JSONValue)] = [("file", .string(file))]
            do {
                let p = try classifier.classify(file: file, workspace: workspace)
                record.append(("top", .array(p.top(topK).map { .object([("label", .string($0.label)), ("score", .float($0.score))]) })))
                if logits { record.append(("logits", .array(p.logits.map(JSONValue.float)))) }
                if timing {
                    record.append(("seconds", .object([("features", .double(p.seconds.features)), ("model", .double(p.seconds.model))])))
                }
            } catch {
                failures += 1
                record.append(("error", .string(problemText(error, path: file))))
            }
            sink.writeLine(JSONValue.object(record).compactText)
        }
        if failures > 0 {
            FileHandle.standardError.write(Data("ipet: \(failures) of \(files.count) files failed\n".utf8))
            throw ExitCode(2)
        }
    }
}

extension ScoreActivation: ExpressibleByArgument {}
