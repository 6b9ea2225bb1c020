import Foundation

/// One line of a trial list: does `test` come from the speaker of `enrol`?
public struct VerificationTrial: Sendable, Equatable {
    /// Label 1 in the file: same speaker.
    public let isTarget: Bool
    public let enrol: String
    public let test: String

    public init(isTarget: Bool, enrol: String, test: String) {
        self.isTarget = isTarget
        self.enrol = enrol
        self.test = test
    }
}

/// Trial lists in the VoxCeleb1-O format: one trial per line, `label enrol test` separated by spaces or tabs,
/// label 1 = same speaker and 0 = different speakers, e.g. `1 id10270/x6uYqmx31kE/00001.wav id10270/8jEAjG6SegY/00008.wav`.
/// Blank lines and lines whose first non-blank character is `#` are skipped; LF and CRLF line ends both work.
public enum VerificationTrialList {
    public static func read(path: String) throws(EngineError) -> [VerificationTrial] {
        try parse(try readText(path), path: path)
    }

    /// - Parameter path: names the source in errors (with the 1-based line number).
    public static func parse(_ text: String, path: String) throws(EngineError) -> [VerificationTrial] {
        var trials: [VerificationTrial] = []
        try forEachRecord(text) { (line, fields) throws(EngineError) in
            guard fields.count == 3 else {
                throw EngineError(
                    path: path, line: line,
                    "expected `label enrol test` (VoxCeleb1-O format, label 1 = same speaker), got \(fieldCount(fields.count))")
            }
            let label = try parseLabel(fields[0], path: path, line: line)
            trials.append(VerificationTrial(isTarget: label, enrol: String(fields[1]), test: String(fields[2])))
        }
        return trials
    }

    /// Utterance keys in order of first appearance (enrol before test on each line), each once.
    public static func utterances(_ trials: [VerificationTrial]) -> [String] {
        var seen = Set<String>()
        var out: [String] = []
        for trial in trials {
            if seen.insert(trial.enrol).inserted { out.append(trial.enrol) }
            if seen.insert(trial.test).inserted { out.append(trial.test) }
        }
        return out
    }
}

/// Score files: one trial per line, `label score` (label 1 = same speaker, 0 = different), separated by spaces or
/// tabs; fields after the score are ignored, so the files `ipet verify --output` writes (`label score enrol
/// test`) read back. Blank lines and `#` comment lines are skipped.
public enum VerificationScoreFile {
    public static func read(path: String) throws(EngineError) -> [(label: Bool, score: Double)] {
        try parse(try readText(path), path: path)
    }

    public static func parse(_ text: String, path: String) throws(EngineError) -> [(label: Bool, score: Double)] {
        var out: [(label: Bool, score: Double)] = []
        try forEachRecord(text) { (line, fields) throws(EngineError) in
            guard fields.count >= 2 else {
                throw EngineError(
                    path: path, line: line, "expected `label score` (label 1 = same speaker), got \(fieldCount(fields.count))")
            }
            let label = try parseLabel(fields[0], path: path, line: line)
            guard let score = Double(fields[1]) else {
                throw EngineError(path: path, line: line, "score \"\(fields[1])\" is not a number")
            }
            guard score.isFinite else {
                throw EngineError(path: path, line: line, "score \"\(fields[1])\" is not a finite number")
            }
            out.append((label, score))
        }
        return out
    }

    /// The text `ipet verify --output` writes: a `#` header, then `label score enrol test` per trial, scores with
    /// the shortest decimal that reads back to the same Double.
    public static func text(trials: [VerificationTrial], scores: [Double]) -> String {
        precondition(trials.count == scores.count)
        var out = "# label score enrol test (label 1 = same speaker)\n"
        out.reserveCapacity(trials.count * 64)
        for (trial, score) in zip(trials, scores) {
            out += trial.isTarget ? "1 " : "0 "
            out += "\(score) \(trial.enrol) \(trial.test)\n"
        }
        return out
    }
}

private func fieldCount(_ n: Int) -> String { n == 1 ? "1 field" : "\(n) fields" }

private func parseLabel(_ field: Substring, path: String, line: Int) throws(EngineError) -> Bool {
    switch field {
    case "1": return true
    case "0": return false
    default:
        throw EngineError(
            path: path, line: line, "label \"\(field)\" must be 1 (same speaker) or 0 (different speakers)")
    }
}

private func readText(_ path: String) throws(EngineError) -> String {
    let data: Data
    do {
        data = try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
        let exists = FileManager.default.fileExists(atPath: path)
        throw EngineError(path: path, exists ? "cannot read the file" : "no such file")
    }
    guard let text = String(data: data, encoding: .utf8) else {
        throw EngineError(path: path, "not UTF-8 text")
    }
    return text
}

/// Calls `body(lineNumber, fields)` for every line that is not blank or a `#` comment; fields are split on spaces,
/// tabs and a trailing carriage return. Byte-level, so 40,000-line files take milliseconds.
private func forEachRecord(
    _ text: String, _ body: (Int, [Substring]) throws(EngineError) -> Void
) throws(EngineError) {
    var lineNumber = 0
    var fields: [Substring] = []
    for rawLine in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
        lineNumber += 1
        fields.removeAll(keepingCapacity: true)
        var fieldStart: String.Index? = nil
        var index = rawLine.startIndex
        while index < rawLine.endIndex {
            let byte = rawLine[index]
            let isSeparator = byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
            if isSeparator {
                if let start = fieldStart {
                    fields.append(Substring(text.utf8[start..<index]))
                    fieldStart = nil
                }
            } else if fieldStart == nil {
                if fields.isEmpty, byte == UInt8(ascii: "#") { break }  // a comment line
                fieldStart = index
            }
            index = rawLine.index(after: index)
        }
        if let start = fieldStart { fields.append(Substring(text.utf8[start..<rawLine.endIndex])) }
        if fields.isEmpty { continue }
        try body(lineNumber, fields)
    }
}
