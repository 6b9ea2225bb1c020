import ArgumentParser
import Foundation
import IPETEngine
import IPETFormats

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Accuracy, top-5, per-class precision/recall/F1, confusion matrix (and mAP) on labelled audio.",
        discussion: """
            Labels come from a manifest (--manifest, a "label" column; ";" \
            separates several labels) or from a folder whose sub-folder names are \
            the labels (FOLDER/dog/x.wav is a "dog"). Inputs are windowed and \
            scores averaged as in `ipet predict`. Files that fail are counted and \
            left out of the figures.

            Macro F1 is the mean of the per-class F1. --macro-f1 all (the \
            default): over all the pack's classes, where a class no file is \
            labelled with has F1 0; --macro-f1 present: over the classes at least \
            one file is labelled with. The report says which.

            Example:
              ipet eval --backbone Fixtures/demo/backbone --pack Fixtures/demo/packs/keywords.ipet --manifest Fixtures/demo/heldout-keywords.csv

            The text report prints the confusion matrix (rows true class, columns \
            predicted) up to 20 classes; above that it is left out: write it with \
            --confusion-csv or --confusion-png.

            Output files, one per pack: PACK in the path of --confusion-csv or \
            --confusion-png is replaced by the pack's name (its file name without \
            extension), with one pack or several (--confusion-png out/PACK.png). \
            With several packs and no PACK in the path, "-NAME" goes before the \
            extension (cm.csv -> cm-keywords.csv, cm-sounds.csv); with one pack \
            such a path is used as given.

            The PNG: a title (pack, accuracy, files), then the matrix with the \
            true classes' labels left of the rows and the predicted classes' \
            above the columns, reading upward. Labels longer than 20 characters \
            end in an ellipsis (in the report too); characters other than \
            printable ASCII show as boxes. A cell's colour is its share of the \
            row (white none, dark blue all). Its count is written in it when the \
            number fits: cells are 32 px up to 20 classes (five digits fit), then \
            smaller (12 px at 50 classes: one digit); a count that does not fit \
            shows only as the colour, and zero cells stay blank. Above 80 classes \
            rows are thinner than the text and every second (third...) class is \
            labelled.
            """)

    @OptionGroup var options: RunOptions

    @Option(help: "A manifest (.csv/.tsv/.jsonl) with path and label columns.")
    var manifest: String?

    @Option(name: .customLong("confusion-csv"), help: ArgumentHelp(
        "Write the confusion matrix as CSV, one file per pack: PACK in the path is replaced by the pack's name (several packs and no PACK: FILE-NAME.csv).",
        valueName: "file"))
    var confusionCSV: String?

    @Option(name: .customLong("confusion-png"), help: ArgumentHelp(
        "Write the confusion matrix as a labelled PNG heat map (rows true, columns predicted, counts in cells), PACK as for --confusion-csv.",
        valueName: "file"))
    var confusionPNG: String?

    @Option(name: .customLong("macro-f1"), help: ArgumentHelp(
        "Classes macro F1 is the mean over: all (the pack's; a class without files has F1 0) or present (those with files).",
        valueName: "classes"))
    var macroF1: ClassificationMetrics.MacroAverage = .all

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
                                                multiLabel: task.activation == .sigmoid, macroAverage: macroF1)
            let several = runner.tasks.count > 1
            do {
                let inputs = [manifest, folder, options.backbone].compactMap { $0 } + options.pack + items.map(\.path)
                if let path = confusionCSV {
                    try AtomicFile.write(Array(metrics.confusionCSV.utf8),
                                         to: try OutputGuard.check(Self.path(path, pack: task.name, several: several), against: inputs))
                }
                if let path = confusionPNG {
                    try AtomicFile.write(Self.heatmap(metrics, pack: task.name),
                                         to: try OutputGuard.check(Self.path(path, pack: task.name, several: several), against: inputs))
                }
            } catch {
                throw fail(error)
            }
            emit(json ? Self.json(metrics, task: task.name, failed: failed).compactText + "\n" : Self.text(metrics, task: task.name, failed: failed))
        }
        if failed > 0 { throw ExitCode(2) }
    }

    /// Where `pack`'s file goes: `PACK` in `template` is always replaced by the pack's name, so one command line
    /// names its files the same way with one pack or several. Without `PACK`, one pack writes `template` itself and
    /// several get `-NAME` before the extension, so that they never write one file in turn.
    static func path(_ template: String, pack: String, several: Bool) -> String {
        if template.contains("PACK") { return template.replacingOccurrences(of: "PACK", with: pack) }
        guard several else { return template }
        let url = URL(fileURLWithPath: template)
        return url.deletingPathExtension().path + "-" + pack + (url.pathExtension.isEmpty ? "" : "." + url.pathExtension)
    }

    static func json(_ m: ClassificationMetrics, task: String, failed: Int) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("pack", .string(task)), ("files", .int(m.count)), ("failed", .int(failed)),
            ("accuracy", .double(m.accuracy)), ("top5_accuracy", .double(m.top5Accuracy)), ("macro_f1", .double(m.macroF1)),
            ("macro_f1_over", .string(m.macroAverage.rawValue)),
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

    /// Longest label in the report's confusion matrix and on the PNG's axes: a row label that long still leaves
    /// room for 20 columns in a terminal and for 50 in a picture of readable size.
    static let labelLimit = 20
    /// Most classes whose confusion matrix the text report prints: 20 numbered columns fill a wide terminal.
    static let textConfusionLimit = 20

    /// `label`, or its first `limit - 1` characters and "…" when it is longer.
    static func abbreviated(_ label: String, to limit: Int = labelLimit) -> String {
        label.count <= limit ? label : String(label.prefix(limit - 1)) + "\u{2026}"
    }

    static func text(_ m: ClassificationMetrics, task: String, failed: Int) -> String {
        var out = "\(task): \(m.count) files" + (failed > 0 ? " (\(failed) failed, left out)" : "") + "\n"
        out += String(format: "  accuracy %.4f   top-5 %.4f   macro F1 %.4f", m.accuracy, m.top5Accuracy, m.macroF1)
        if let map = m.meanAveragePrecision { out += String(format: "   mAP %.4f", map) }
        out += "\n  " + macroF1Definition(m) + "\n"
        out += "\n  " + "class".padding(toLength: 24, withPad: " ", startingAt: 0) + "precision  recall     F1  support\n"
        for c in m.perClass {
            out += "  " + abbreviated(c.label, to: 24).padding(toLength: 24, withPad: " ", startingAt: 0)
                + String(format: "%9.4f %7.4f %6.4f %8d\n", c.precision, c.recall, c.f1, c.support)
        }
        return out + "\n" + confusionTable(m) + "\n"
    }

    /// The report's line saying what macro F1 averaged over, and what the other choice would change.
    static func macroF1Definition(_ m: ClassificationMetrics) -> String {
        let all = m.labels.count, present = m.presentClassCount, absent = all - present
        switch m.macroAverage {
        case .all:
            return "macro F1: mean F1 over all \(all) classes of the pack"
                + (absent > 0 ? "; the \(absent) without files here count as 0 (--macro-f1 present leaves them out)" : "")
        case .present:
            return "macro F1: mean F1 over the \(present) classes with files here (--macro-f1 present)"
                + (absent > 0 ? "; \(absent) of the pack's \(all) have none" : "")
        }
    }

    /// The confusion matrix for people: columns numbered as the rows (so 20 of them fit in a terminal whatever the
    /// labels), rows numbered and labelled; above `textConfusionLimit` classes a note instead.
    static func confusionTable(_ m: ClassificationMetrics) -> String {
        let n = m.labels.count
        guard n <= textConfusionLimit else {
            return "  confusion matrix left out: \(n) classes, more than the \(textConfusionLimit) this report prints; "
                + "--confusion-csv FILE writes it (--confusion-png FILE draws it)\n"
        }
        func right(_ text: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - text.count)) + text }
        let numberWidth = String(n).count
        let names = m.labels.map { abbreviated($0) }
        let nameWidth = names.map(\.count).max() ?? 0
        let column = max(3, max(numberWidth, String(m.confusion.joined().max() ?? 0).count) + 1)
        var out = "  confusion matrix: rows true class, columns predicted class (numbered as the rows)\n"
        out += String(repeating: " ", count: 2 + numberWidth + 1 + nameWidth) + (0..<n).map { right(String($0 + 1), column) }.joined() + "\n"
        for (i, row) in m.confusion.enumerated() {
            out += "  " + right(String(i + 1), numberWidth) + " " + names[i].padding(toLength: nameWidth, withPad: " ", startingAt: 0)
                + row.map { right(String($0), column) }.joined() + "\n"
        }
        return out
    }

    /// Cell size of the PNG: 32 px up to 20 classes, then shrinking to keep the picture about 640 px wide, never
    /// below 4 px (an AudioSet-sized task, 527 classes, stays near 2,100 px).
    static func pngCellSize(classes n: Int) -> Int { max(4, min(32, 640 / max(n, 1))) }

    /// The confusion matrix as a PNG: a title (pack, accuracy, files) and a line naming the axes, then the matrix
    /// in the bottom-right corner, `margin` from the edges, with the true classes' labels left of the rows and the
    /// predicted classes' above the columns, turned to read upward so that neighbouring columns' labels never
    /// overlap. A cell's colour is its share of the row (white 0, dark blue 1), its count written on it when the
    /// number fits inside (zero cells stay blank). Rows thinner than the text get a label every `every` classes.
    /// Integer layout and `BitmapFont` only: the same figures give the same bytes.
    static func heatmap(_ m: ClassificationMetrics, pack: String) -> [UInt8] {
        let n = max(m.labels.count, 1), cell = pngCellSize(classes: n), grid = n * cell
        let margin = 8, gap = 4, titleScale = 2, textHeight = BitmapFont.glyphHeight
        let ink: (UInt8, UInt8, UInt8) = (20, 20, 20), paper: (UInt8, UInt8, UInt8) = (255, 255, 255)
        let every = (textHeight + cell - 1) / cell
        let names = m.labels.map { abbreviated($0) }
        let labelWidth = names.map(BitmapFont.width(of:)).max() ?? 0
        let title = "\(pack): accuracy " + String(format: "%.2f", 100 * m.accuracy) + " % (\(m.count) files)"
        let axes = "rows: true class, columns: predicted class"
        let textWidth = max(BitmapFont.width(of: title) * titleScale, BitmapFont.width(of: axes))
        let width = max(margin + labelWidth + gap + grid, margin + textWidth) + margin
        let gridX = width - margin - grid
        let gridY = margin + textHeight * titleScale + gap + textHeight + gap + labelWidth + gap
        var image = PNGImage(width: width, height: gridY + grid + margin)
        image.draw(text: title, x: margin, y: margin, color: ink, scale: titleScale)
        image.draw(text: axes, x: margin, y: margin + textHeight * titleScale + gap, color: ink)
        image.fill(x: gridX - 1, y: gridY - 1, width: grid + 2, height: grid + 2, color: (160, 160, 160))
        for (i, row) in m.confusion.enumerated() {
            let total = max(1, row.reduce(0, +))
            for (j, v) in row.enumerated() {
                let f = Double(v) / Double(total)
                let color = (UInt8(255 - 200 * f), UInt8(255 - 160 * f), UInt8(255 - 60 * f))
                image.fill(x: gridX + j * cell, y: gridY + i * cell, width: cell, height: cell, color: color)
                let count = String(v), countWidth = BitmapFont.width(of: count)
                guard v > 0, countWidth + 2 <= cell, textHeight + 2 <= cell else { continue }
                image.draw(text: count, x: gridX + j * cell + (cell - countWidth) / 2, y: gridY + i * cell + (cell - textHeight) / 2,
                           color: f > 0.5 ? paper : ink)
            }
        }
        for (i, name) in names.enumerated() where i % every == 0 {
            let offset = i * cell + (cell - textHeight) / 2
            image.draw(text: name, x: gridX - gap - BitmapFont.width(of: name), y: gridY + offset, color: ink)
            image.draw(text: name, x: gridX + offset, y: gridY - gap - 1, color: ink, upward: true)
        }
        return image.encoded()
    }
}

extension ClassificationMetrics.MacroAverage: ExpressibleByArgument {}
