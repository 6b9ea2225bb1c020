import ArgumentParser
import Foundation
import IPETEngine
import IPETFormats

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
            return "file".padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  " + Self.fit("pack", width: 20)
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
            let order = ScoreRanking.order(scores)
            top = order.prefix(topK).map { (labels.indices.contains($0) ? labels[$0] : "LABEL_\($0)", scores[$0]) }
        }
        let error = answer.error.map(CommandError.detail) ?? (answer.scores == nil && answer.embedding != nil && answer.logits == nil
            ? "this task has no classifier (an embedding head): use `ipet embed`" : nil)
        switch format {
        case .json:
            var record: [(key: String, value: JSONValue)] = [("file", .string(item.name))]
            if showPack { record.append(("pack", .string(answer.task.name))) }
            if let s = answer.start, let e = answer.end { record += [("start", .double(s)), ("end", .double(e))] }
            if !item.labels.isEmpty { record.append(("label", .string(LabelList.join(item.labels)))) }
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
                error == nil ? String(answer.windows) : "", LabelList.join(item.labels),
                top.first?.0 ?? "", top.first.map { $0.1.description } ?? "",
                top.map { LabelList.escape($0.0) + ":\($0.1)" }.joined(separator: ";"), error ?? "",
            ]
            return fields.map { CSV.escape($0) }.joined(separator: ",")
        case .table:
            // One row per record, whatever the file name holds.
            var name = item.name.replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\r", with: "\\r")
            if let s = answer.start, let e = answer.end { name += String(format: " [%.2f-%.2f s]", s, e) }
            let first = Self.fit(name, width: nameWidth) + "  "
                + Self.fit(answer.task.name, width: 20) + "  "
            if let error { return first + "error: " + error }
            let label = top.first?.0 ?? "-"
            // With --top-k N the runners-up follow the score, best first.
            let next = top.dropFirst().map { "\($0.0) " + String(format: "%.3f", $0.1) }.joined(separator: ", ")
            return first + label.padding(toLength: max(23, label.count + 1), withPad: " ", startingAt: 0)
                + (top.first.map { String(format: "%.3f", $0.1) } ?? "") + (next.isEmpty ? "" : "  " + next)
        }
    }

    /// `text` in a column of `width` characters: padded, or cut at the front with "…" when longer, so the rows of a
    /// table stay aligned and keep the end of a name (the file name, the window) visible. JSON and CSV keep names whole.
    static func fit(_ text: String, width: Int) -> String {
        guard text.count > width else { return text.padding(toLength: width, withPad: " ", startingAt: 0) }
        return "…" + text.suffix(width - 1)
    }
}
