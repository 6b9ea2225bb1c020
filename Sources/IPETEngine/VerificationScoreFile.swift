import Foundation

/// Score files: one trial per line, `label score` (label 1 = same speaker, 0 = different), separated by spaces or
/// tabs; fields after the score are ignored, so the files `ipet verify --output` writes (`label score enrol
/// test`) read back. Blank lines and `#` comment lines are skipped.
public enum VerificationScoreFile {
    public static func read(path: String) throws(EngineError) -> [(label: Bool, score: Double)] {
        try parse(try VerificationTextFile.readText(path), path: path)
    }

    public static func parse(_ text: String, path: String) throws(EngineError) -> [(label: Bool, score: Double)] {
        var out: [(label: Bool, score: Double)] = []
        try VerificationTextFile.forEachRecord(text) { (line, fields) throws(EngineError) in
            guard fields.count >= 2 else {
                throw EngineError(
                    path: path, line: line, "expected `label score` (label 1 = same speaker), got \(VerificationTextFile.fieldCount(fields.count))")
            }
            let label = try VerificationTextFile.parseLabel(fields[0], path: path, line: line)
            // Decimal only: Swift's Double("0x10") is 16, which no score file means (nan and inf are read, then
            // refused below as not finite).
            guard !fields[1].lowercased().contains("x"), let score = Double(fields[1]) else {
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
