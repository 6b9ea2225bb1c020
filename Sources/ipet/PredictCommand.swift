import ArgumentParser
import Foundation
import IPETEngine
import IPETFormats

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Run a backbone (and packs) over audio files; one record per file and pack.",
        discussion: """
            JSON Lines records look like {"file": "...", "pack": "...", "top": [{"label": "...", "score": 0.87}, ...]} \
            ("pack" only with --pack, "logits" with --logits); CSV and table formats carry the same fields \
            (Formats/records.md).

            Inputs longer than the model's input are cut into windows of that length whose scores are averaged \
            (--per-window: one record per window with its start and end). Windows follow each other (or start every \
            --hop seconds); the last one is kept when more than half a window of audio remains, and is padded. With \
            --window 0 a longer input is scored on its first input length only, and its record says so (start, end).

            A file that fails gives an "error" record and the run goes on; exit status 0 when every file worked, 2 \
            when some failed, 1 when nothing could run. With -o FILE, --resume continues a killed run (the output is \
            locked while a run writes it).

            Examples:
              ipet predict --backbone ast-audioset --format table --top-k 3 clips/
              ipet predict --backbone ast-audioset --pack esc50.ipet --pack gtzan.ipet -o out.jsonl --resume data/
            """)

    @OptionGroup var options: RunOptions

    @Option(name: .customLong("top-k"), help: "How many labels to list per record.")
    var topK: Int = 5

    @Flag(help: "Include the raw logits (averaged over windows).")
    var logits = false

    @Flag(name: .customLong("per-window"), help: "One record per window instead of averaged scores.")
    var perWindow = false

    @Option(help: "Output format: json (JSON Lines), csv or table.")
    var format: RecordFormat = .json

    @Option(name: .shortAndLong, help: "Write records to this file instead of standard output.")
    var output: String?

    @Flag(help: "Continue an interrupted run: skip inputs already answered in --output and append.")
    var resume = false

    @Argument(help: ArgumentHelp(HelpText.inputs, valueName: "input"))
    var inputs: [String]

    func validate() throws {
        try options.validateRun()
        guard topK >= 0 else { throw ValidationError("--top-k must be zero or more") }
        guard !inputs.isEmpty else { throw ValidationError("give at least one audio file, folder or manifest") }
        if resume && output == nil { throw ValidationError("--resume needs --output FILE") }
        if resume && format == .table { throw ValidationError("--resume needs --format json or csv") }
    }

    func run() throws {
        options.compute.apply()
        let runner: BatchRunner
        var items: [InputItem]
        var resumed = ResumeState()
        let sink: OutputSink
        do {
            runner = try options.makeRunner(perWindow: perWindow)
            items = try options.items(inputs)
            if let output {
                let protected = inputs + items.map(\.path) + options.pack + [options.backbone]
                _ = try OutputGuard.check(output, against: protected, regularFileOnly: false)
                // The settings file written beside the output must not replace an input either.
                if OutputSink.inheritedDescriptor(named: output) == nil {
                    _ = try OutputGuard.check(RunSettings.sidecarPath(for: output), against: protected)
                }
            }
            // Opening locks the file for this run; nothing in it changes until every check below has passed.
            sink = try OutputSink(path: output)
            let settings = RunSettings(runner: runner, format: format, topK: topK, logits: logits, perWindow: perWindow,
                                       window: options.window, hop: options.hop)
            if resume, let output {
                guard sink.isRegularFile else { throw CommandError("\(output): --resume needs a regular file to read back") }
                resumed = try ResumeState.parse(try sink.existingContent(), format: format, path: output)
                if resumed.records > 0 { try settings.check(resuming: output, relativeNames: resumed.hasRelativeNames) }
            }
            if let output, sink.isRegularFile { try settings.write(beside: output) }
            try sink.truncate(to: resumed.keptBytes)
        } catch {
            throw fail(error)
        }
        let taskNames = Set(runner.tasks.map(\.name))
        let byFile = resumed.answeredByFile()
        let total = items.count
        var answeredFor: [String: Set<String>] = [:]
        items = items.filter { item in
            let packs = resumed.answeredPacks(for: item, byFile: byFile)
            answeredFor[item.name] = packs
            return !taskNames.isSubset(of: packs)
        }
        let writer = RecordWriter(format: format, topK: topK, includeLogits: logits, showPack: !options.pack.isEmpty,
                                  nameWidth: min(60, max(4, items.map(\.name.count).max() ?? 4)) + (perWindow ? 20 : 0))
        if let header = writer.header, resumed.keptBytes == 0 { sink.writeLine(header) }
        let progress = ProgressReporter(total: items.count, quiet: options.quiet)
        var failedFiles = 0, partial = 0
        runner.run(items) { result in
            if !perWindow, result.answers.contains(where: { $0.end != nil }) { partial += 1 }
            let text = writer.text(for: result, skipping: answeredFor[result.item.name] ?? [])
            sink.write(text)
            if result.failed { failedFiles += 1 }
            progress.advance(failed: result.failed, windows: result.answers.map(\.windows).max() ?? 0)
        }
        if !options.quiet { progress.summary(skipped: total - items.count) }
        if partial > 0 {
            FileHandle.standardError.write(Data(("warning: \(partial) of \(items.count) inputs were scored on part of their audio only "
                + "(longer than the model's input with --window 0, or a tail under half a window); their records give the "
                + "part scored as \"start\" and \"end\"\n").utf8))
        }
        if failedFiles > 0 {
            FileHandle.standardError.write(Data("ipet: \(failedFiles) of \(items.count) files failed\n".utf8))
        }
        if resumed.failedFiles > 0 {
            FileHandle.standardError.write(Data("ipet: \(resumed.failedFiles) files already in \(output ?? "the output") failed in an earlier run\n".utf8))
        }
        if failedFiles + resumed.failedFiles > 0 { throw ExitCode(2) }
    }
}
