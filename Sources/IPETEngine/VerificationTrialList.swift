import Foundation

/// Trial lists in the VoxCeleb1-O format: one trial per line, `label enrol test` separated by spaces or tabs,
/// label 1 = same speaker and 0 = different speakers, e.g. `1 id10270/x6uYqmx31kE/00001.wav id10270/8jEAjG6SegY/00008.wav`.
/// Blank lines and lines whose first non-blank character is `#` are skipped; LF and CRLF line ends both work.
public enum VerificationTrialList {
    public static func read(path: String) throws(EngineError) -> [VerificationTrial] {
        try parse(try VerificationTextFile.readText(path), path: path)
    }

    /// - Parameters:
    ///   - text: the file's content.
    ///   - path: names the source in errors (with the 1-based line number).
    public static func parse(_ text: String, path: String) throws(EngineError) -> [VerificationTrial] {
        var trials: [VerificationTrial] = []
        try VerificationTextFile.forEachRecord(text) { (line, fields) throws(EngineError) in
            guard fields.count == 3 else {
                throw EngineError(
                    path: path, line: line,
                    "expected `label enrol test` (VoxCeleb1-O format, label 1 = same speaker), got \(VerificationTextFile.fieldCount(fields.count))")
            }
            let label = try VerificationTextFile.parseLabel(fields[0], path: path, line: line)
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
