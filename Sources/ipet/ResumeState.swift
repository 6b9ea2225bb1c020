import ArgumentParser
import Foundation
import IPETEngine
import IPETFormats

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
            CommandError("\(path): \(why); refusing to resume into it (choose another --output)")
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
