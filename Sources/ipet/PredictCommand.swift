import ArgumentParser
import Foundation
import IPETEngine
import IPETFormats
import IPETModels
import IPETTensor

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Classify audio files with a backbone's head; one JSON line per file.",
        discussion: """
            INPUT are files or folders (searched recursively for audio files). Each output line is
              {"file": "...", "top": [{"label": "...", "score": 0.87}, ...]}
            with "logits" added by --logits. With --pack, every pack runs on every input (decoded once, features
            computed once per preprocessing) and each line also has "pack". A file that fails gives
            {"file": "...", "error": "..."} and the run goes on; the exit status is 0 when every file worked and
            2 when some failed.
            """)

    @Option(help: "A Hugging Face model folder (config.json + model.safetensors) or a converted file.")
    var backbone: String

    @Option(help: "An IPET adapter pack to run on the backbone (repeatable).")
    var pack: [String] = []

    @Flag(name: .customLong("allow-mismatch"), help: "Run packs made for other weights of the same shape (with a warning).")
    var allowMismatch = false

    @Option(name: .customLong("top-k"), help: "How many labels to list per file.")
    var topK: Int = 5

    @Flag(help: "Include the raw logits.")
    var logits = false

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
        let predictor: Predictor
        let files: [String]
        let sink: OutputSink
        do {
            let model = try Backbone.load(backbone)
            let tasks = pack.isEmpty
                ? [try TaskModel(backbone: model, activation: activation)]
                : try pack.map { try TaskModel(backbone: model, pack: try AdapterPack(path: $0), activation: activation, allowMismatch: allowMismatch) }
            predictor = Predictor(backbone: model, tasks: tasks)
            files = try AudioInput.expand(inputs)
            sink = try OutputSink(path: output)
        } catch {
            throw fail(error)
        }
        let workspace = Workspace()
        var failedFiles = Set<String>()
        for file in files {
            for result in predictor.predict(file: file, workspace: workspace) {
                var record: [(key: String, value: JSONValue)] = [("file", .string(file))]
                if !pack.isEmpty { record.append(("pack", .string(result.task.name))) }
                switch result.outcome {
                case let .success((prediction?, _)):
                    record.append(("top", .array(prediction.top(topK).map { .object([("label", .string($0.label)), ("score", .float($0.score))]) })))
                    if logits { record.append(("logits", .array(prediction.logits.map(JSONValue.float)))) }
                case .success((nil, _)):
                    failedFiles.insert(file)
                    record.append(("error", .string("this task has no classifier (an embedding head): use `ipet embed`")))
                case let .failure(failure):
                    failedFiles.insert(file)
                    record.append(("error", .string(failure.message)))
                }
                sink.writeLine(JSONValue.object(record).compactText)
            }
        }
        if !failedFiles.isEmpty {
            FileHandle.standardError.write(Data("ipet: \(failedFiles.count) of \(files.count) files failed\n".utf8))
            throw ExitCode(2)
        }
    }
}

extension ScoreActivation: ExpressibleByArgument {}
