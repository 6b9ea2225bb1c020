import ArgumentParser
import Foundation
import IPETEngine
import IPETFormats

/// Output formats for `ipet predict`.
enum RecordFormat: String, ExpressibleByArgument, CaseIterable {
    case json, csv, table
}

/// Turns one input's results into output text (all its records in one string, so they are written with a single
/// write call: a killed run leaves whole inputs or nothing, never a torn line except possibly the very last).
struct RecordWriter {
    let format: RecordFormat
    let topK: Int
    let includeLogits: Bool
    let showPack: Bool
    let nameWidth: Int

    static let csvHeader = "file,pack,start,end,windows,label,top_label,top_score,top,error"

    var header: String? {
        switch format {
        case .json: return nil
        case .csv: return Self.csvHeader
        case .table:
            return "file".padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  " + "pack".padding(toLength: 20, withPad: " ", startingAt: 0)
                + "  top label" + String(repeating: " ", count: 14) + "score" + (topK > 1 ? "  next" : "")
        }
    }

    func text(for result: BatchRunner.InputResult, skipping answered: Set<String> = []) -> String {
        var out = ""
        for answer in result.answers where !answered.contains(answer.task.name) {
            out += line(item: result.item, answer: answer) + "\n"
        }
        return out
    }

    func line(item: InputItem, answer: BatchRunner.Answer) -> String {
        let labels = answer.task.labels
        var top: [(String, Float)] = []
        if let scores = answer.scores {
            let order = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
            top = order.prefix(topK).map { (labels.indices.contains($0) ? labels[$0] : "LABEL_\($0)", scores[$0]) }
        }
        let error = answer.error ?? (answer.scores == nil && answer.embedding != nil && answer.logits == nil
            ? "this task has no classifier (an embedding head): use `ipet embed`" : nil)
        switch format {
        case .json:
            var record: [(key: String, value: JSONValue)] = [("file", .string(item.name))]
            if showPack { record.append(("pack", .string(answer.task.name))) }
            if let s = answer.start, let e = answer.end { record += [("start", .double(s)), ("end", .double(e))] }
            if !item.labels.isEmpty { record.append(("label", .string(item.labels.joined(separator: ";")))) }
            if let error {
                record.append(("error", .string(error)))
            } else {
                if answer.windows > 1 { record.append(("windows", .int(answer.windows))) }
                record.append(("top", .array(top.map { .object([("label", .string($0.0)), ("score", .float($0.1))]) })))
                if includeLogits, let l = answer.logits { record.append(("logits", .array(l.map(JSONValue.float)))) }
            }
            return JSONValue.object(record).compactText
        case .csv:
            let fields: [String] = [
                item.name, answer.task.name, answer.start.map { String($0) } ?? "", answer.end.map { String($0) } ?? "",
                error == nil ? String(answer.windows) : "", item.labels.joined(separator: ";"),
                top.first?.0 ?? "", top.first.map { $0.1.description } ?? "",
                top.map { "\($0.0):\($0.1)" }.joined(separator: ";"), error ?? "",
            ]
            return fields.map(CSV.escape).joined(separator: ",")
        case .table:
            // One row per record, whatever the file name holds.
            var name = item.name.replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\r", with: "\\r")
            if let s = answer.start, let e = answer.end { name += String(format: " [%.2f-%.2f s]", s, e) }
            let first = name.padding(toLength: max(nameWidth, name.count), withPad: " ", startingAt: 0) + "  "
                + answer.task.name.padding(toLength: 20, withPad: " ", startingAt: 0) + "  "
            if let error { return first + "error: " + error }
            let label = top.first?.0 ?? "-"
            // With --top-k N the runners-up follow the score, best first.
            let next = top.dropFirst().map { "\($0.0) " + String(format: "%.3f", $0.1) }.joined(separator: ", ")
            return first + label.padding(toLength: max(23, label.count + 1), withPad: " ", startingAt: 0)
                + (top.first.map { String(format: "%.3f", $0.1) } ?? "") + (next.isEmpty ? "" : "  " + next)
        }
    }
}

/// What an existing output file already answers, for --resume.
///
/// Records are written one input at a time, so only the file's last input can be incomplete (a run killed in
/// the middle of its write, or of a torn line): a torn last line is cut off and the last input's records are
/// removed too, so that input runs again. Inputs whose records were errors stay answered (appending a second
/// record would duplicate them) but are counted, so the resumed run still exits 2. A file that is not this
/// format's output of `ipet predict` is refused rather than appended to.
struct ResumeState {
    /// File name → packs answered.
    var answered: [String: Set<String>] = [:]
    /// Inputs with an error record among the kept ones.
    var failedFiles = 0
    /// Bytes kept in the file (0: write the header again).
    var keptBytes = 0

    static func load(path: String, format: RecordFormat) throws -> ResumeState {
        guard FileManager.default.fileExists(atPath: path) else { return ResumeState() }
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        let data = try handle.readToEnd() ?? Data()
        if format == .table { throw ValidationError("--resume needs --format json or csv") }
        // Complete lines with their byte offsets; a torn last line is dropped.
        var lines: [(text: String, start: Int)] = []
        var lineStart = 0
        for (i, byte) in data.enumerated() where byte == UInt8(ascii: "\n") {
            lines.append((String(decoding: data[lineStart..<i], as: UTF8.self), lineStart))
            lineStart = i + 1
        }
        func refuse(_ why: String) -> Error {
            OutputGuard.Refusal(description: "\(path): \(why); refusing to resume into it (choose another --output)")
        }
        var records: [(file: String, pack: String, failed: Bool, start: Int)] = []
        for (i, line) in lines.enumerated() {
            switch format {
            case .json:
                guard let record = try? JSONParser.parse(line.text), let file = record["file"]?.string else {
                    throw refuse("line \(i + 1) is not a JSON record of ipet predict")
                }
                records.append((file, record["pack"]?.string ?? "backbone", record["error"] != nil, line.start))
            case .csv:
                if i == 0 {
                    guard line.text == RecordWriter.csvHeader else { throw refuse("it does not start with ipet predict's CSV header") }
                    continue
                }
                let fields = CSV.split(line.text)
                guard fields.count == RecordWriter.csvHeader.split(separator: ",").count else {
                    throw refuse("line \(i + 1) is not a CSV record of ipet predict")
                }
                records.append((fields[0], fields[1], !fields[9].isEmpty, line.start))
            case .table:
                break
            }
        }
        // Drop the last input's records (and anything torn after them): it may be incomplete.
        var keep = records.count
        if let last = records.last?.file {
            while keep > 0 && records[keep - 1].file == last { keep -= 1 }
        }
        let cut = keep < records.count ? records[keep].start : lineStart
        if cut < data.count { try handle.truncate(atOffset: UInt64(cut)) }
        var state = ResumeState()
        state.keptBytes = min(cut, data.count)
        var failed = Set<String>()
        for r in records[..<keep] {
            state.answered[r.file, default: []].insert(r.pack)
            if r.failed { failed.insert(r.file) }
        }
        state.failedFiles = failed.count
        return state
    }
}
