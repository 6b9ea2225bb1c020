import ArgumentParser
import Foundation
import IPETEngine
import IPETFormats

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Accuracy, top-5, per-class precision/recall/F1, confusion matrix (and mAP) on labelled audio.",
        discussion: """
            Labels come from a manifest (--manifest, a "label" column; ";" separates several labels) or from a
            folder whose sub-folder names are the labels (FOLDER/dog/x.wav is a "dog"). Inputs are windowed and
            scores averaged as in `ipet predict`. Files that fail are counted and left out of the figures.
            """)

    @OptionGroup var options: RunOptions

    @Option(help: "A manifest (.csv/.tsv/.jsonl) with path and label columns.")
    var manifest: String?

    @Option(name: .customLong("confusion-csv"), help: "Write the confusion matrix as CSV (one per pack: PACK is replaced by its name).")
    var confusionCSV: String?

    @Option(name: .customLong("confusion-png"), help: "Write the confusion matrix as a PNG heat map (rows true, columns predicted).")
    var confusionPNG: String?

    @Flag(help: "Print one JSON object per pack.")
    var json = false

    @Argument(help: "A folder whose sub-folders name the classes.")
    var folder: String?

    func validate() throws {
        try options.validateRun()
        guard (manifest == nil) != (folder == nil) else { throw ValidationError("give either --manifest FILE or a FOLDER") }
    }

    func run() throws {
        options.compute.apply()
        let runner: BatchRunner
        let items: [InputItem]
        do {
            runner = try options.makeRunner()
            items = try options.items(manifest.map { [$0] } ?? [folder!], labelsFromFolders: folder != nil)
        } catch {
            throw fail(error)
        }
        guard !items.isEmpty else { throw fail(CommandError("\(manifest ?? folder!): no labelled audio found")) }
        let progress = ProgressReporter(total: items.count, quiet: options.quiet || json)
        var truth: [[[Int]]] = runner.tasks.map { _ in [] }
        var scores: [[[Float]]] = runner.tasks.map { _ in [] }
        var failed = 0, unlabelled = 0
        var unknown: [String: Int] = [:]
        runner.run(items) { result in
            progress.advance(failed: result.failed, windows: result.answers.map(\.windows).max() ?? 0)
            if result.failed {
                failed += 1
                let reason = result.answers.compactMap(\.error).first.map(CommandError.detail) ?? "failed"
                FileHandle.standardError.write(Data("error: \(result.item.name): \(reason)\n".utf8))
            }
            guard !result.item.labels.isEmpty else { unlabelled += 1; return }
            for (t, answer) in result.answers.enumerated() {
                guard let s = answer.scores else { continue }
                let indices = result.item.labels.compactMap { answer.task.labels.firstIndex(of: $0) }
                for label in result.item.labels where !answer.task.labels.contains(label) { unknown[label, default: 0] += 1 }
                guard !indices.isEmpty else { continue }
                truth[t].append(indices)
                scores[t].append(s)
            }
        }
        if !options.quiet && !json { progress.summary() }
        if unlabelled > 0 {
            FileHandle.standardError.write(Data("warning: \(unlabelled) files have no label; they are left out\n".utf8))
        }
        for label in unknown.keys.sorted() {
            FileHandle.standardError.write(Data("warning: label \"\(label)\" (\(unknown[label]!) files) is not one of the task's labels; those files are left out\n".utf8))
        }
        guard truth.contains(where: { !$0.isEmpty }) else {
            // Reporting "0 files, accuracy 0" with success would look like a result.
            throw fail(CommandError("\(manifest ?? folder!): no file could be evaluated (\(failed) failed, "
                + "\(unlabelled) without a label, \(unknown.values.reduce(0, +)) with labels the pack does not know)"))
        }
        for (t, task) in runner.tasks.enumerated() {
            if truth[t].isEmpty {
                FileHandle.standardError.write(Data("warning: \(task.name): none of the files has one of its labels; no report\n".utf8))
                continue
            }
            let metrics = ClassificationMetrics(labels: task.labels, truth: truth[t], scores: scores[t],
                                                multiLabel: task.activation == .sigmoid)
            let name = runner.tasks.count > 1 ? task.name : nil
            do {
                let inputs = [manifest, folder, options.backbone].compactMap { $0 } + options.pack + items.map(\.path)
                if let path = confusionCSV {
                    try AtomicFile.write(Array(metrics.confusionCSV.utf8), to: try OutputGuard.check(Self.path(path, task: name), against: inputs))
                }
                if let path = confusionPNG {
                    try AtomicFile.write(Self.heatmap(metrics.confusion), to: try OutputGuard.check(Self.path(path, task: name), against: inputs))
                }
            } catch {
                throw fail(error)
            }
            emit(json ? Self.json(metrics, task: task.name, failed: failed).compactText + "\n" : Self.text(metrics, task: task.name, failed: failed))
        }
        if failed > 0 { throw ExitCode(2) }
    }

    static func path(_ template: String, task: String?) -> String {
        guard let task else { return template }
        if template.contains("PACK") { return template.replacingOccurrences(of: "PACK", with: task) }
        let url = URL(fileURLWithPath: template)
        return url.deletingPathExtension().path + "-" + task + (url.pathExtension.isEmpty ? "" : "." + url.pathExtension)
    }

    static func json(_ m: ClassificationMetrics, task: String, failed: Int) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("pack", .string(task)), ("files", .int(m.count)), ("failed", .int(failed)),
            ("accuracy", .double(m.accuracy)), ("top5_accuracy", .double(m.top5Accuracy)), ("macro_f1", .double(m.macroF1)),
        ]
        if let map = m.meanAveragePrecision { members.append(("mAP", .double(map))) }
        members.append(("per_class", .array(m.perClass.map { c in
            .object([("label", .string(c.label)), ("precision", .double(c.precision)), ("recall", .double(c.recall)),
                     ("f1", .double(c.f1)), ("support", .int(c.support))])
        })))
        members.append(("labels", .array(m.labels.map(JSONValue.string))))
        members.append(("confusion", .array(m.confusion.map { .array($0.map(JSONValue.int)) })))
        return .object(members)
    }

    static func text(_ m: ClassificationMetrics, task: String, failed: Int) -> String {
        var out = "\(task): \(m.count) files" + (failed > 0 ? " (\(failed) failed, left out)" : "") + "\n"
        out += String(format: "  accuracy %.4f   top-5 %.4f   macro F1 %.4f", m.accuracy, m.top5Accuracy, m.macroF1)
        if let map = m.meanAveragePrecision { out += String(format: "   mAP %.4f", map) }
        out += "\n\n  " + "class".padding(toLength: 24, withPad: " ", startingAt: 0) + "precision  recall     F1  support\n"
        for c in m.perClass {
            out += "  " + c.label.padding(toLength: 24, withPad: " ", startingAt: 0)
                + String(format: "%9.4f %7.4f %6.4f %8d\n", c.precision, c.recall, c.f1, c.support)
        }
        return out + "\n"
    }

    /// Rows are true classes, columns predicted; darker blue = larger share of the row.
    static func heatmap(_ confusion: [[Int]]) -> [UInt8] {
        let n = max(confusion.count, 1), cell = max(4, min(32, 512 / n))
        var image = PNGImage(width: n * cell, height: n * cell)
        for (i, row) in confusion.enumerated() {
            let total = max(1, row.reduce(0, +))
            for (j, v) in row.enumerated() {
                let f = Double(v) / Double(total)
                let color = (UInt8(255 - 200 * f), UInt8(255 - 160 * f), UInt8(255 - 60 * f))
                image.fill(x: j * cell, y: i * cell, width: cell, height: cell, color: color)
            }
        }
        return image.encoded()
    }
}
