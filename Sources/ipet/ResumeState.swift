import ArgumentParser
import Foundation
import IPETEngine
import IPETFormats

/// What an existing output file already answers, for --resume.
///
/// Records are written one input at a time, so only the file's last input can be incomplete (a run killed in
/// the middle of its write, or of a torn line): a torn last record is cut off and the last input's records are
/// removed too, so that input runs again. Inputs whose records were errors stay answered (appending a second
/// record would duplicate them) but are counted, so the resumed run still exits 2. A file that is not this
/// format's output of `ipet predict` is refused rather than appended to. Reading changes nothing: the caller cuts
/// the file to `keptBytes` only once every check has passed.
struct ResumeState {
    /// Record name → packs answered.
    var answered: [String: Set<String>] = [:]
    /// Inputs with an error record among the kept ones.
    var failedFiles = 0
    /// Bytes to keep (0: write the header again).
    var keptBytes = 0
    /// Records in the kept part.
    var records = 0

    static func parse(_ data: [UInt8], format: RecordFormat, path: String) throws -> ResumeState {
        func refuse(_ why: String) -> Error {
            CommandError("\(path): \(why); refusing to resume into it (choose another --output)")
        }
        var records: [(file: String, pack: String, failed: Bool, start: Int)] = []
        var end = 0  // end of the last complete record
        switch format {
        case .json:
            var lineStart = 0, number = 0
            for (i, byte) in data.enumerated() where byte == UInt8(ascii: "\n") {
                number += 1
                let text = String(decoding: data[lineStart..<i], as: UTF8.self)
                guard let record = try? JSONParser.parse(text), let file = record["file"]?.string else {
                    throw refuse("line \(number) is not a JSON record of ipet predict")
                }
                records.append((file, record["pack"]?.string ?? "backbone", record["error"] != nil, lineStart))
                lineStart = i + 1
                end = lineStart
            }
        case .csv:
            guard data.isEmpty || data.starts(with: Array((RecordWriter.csvHeader + "\n").utf8).prefix(data.count)) else {
                throw refuse("it does not start with ipet predict's CSV header")
            }
            let parsed: [CSV.Record]
            do { parsed = try CSV.records(data) } catch { throw refuse("\(error)") }
            let columns = RecordWriter.csvHeader.split(separator: ",").count
            for (i, record) in parsed.enumerated() where record.terminated {
                if i == 0 {
                    guard record.fields.joined(separator: ",") == RecordWriter.csvHeader else {
                        throw refuse("it does not start with ipet predict's CSV header")
                    }
                    end = record.range.upperBound
                    continue
                }
                guard record.fields.count == columns else { throw refuse("line \(record.line) is not a CSV record of ipet predict") }
                records.append((record.fields[0], record.fields[1], !record.fields[9].isEmpty, record.range.lowerBound))
                end = record.range.upperBound
            }
        case .table:
            throw ValidationError("--resume needs --format json or csv")
        }
        // Drop the last input's records (and anything torn after them): it may be incomplete.
        var keep = records.count
        if let last = records.last?.file {
            while keep > 0 && records[keep - 1].file == last { keep -= 1 }
        }
        var state = ResumeState()
        state.keptBytes = keep < records.count ? records[keep].start : end
        state.records = keep
        var failed = Set<String>()
        for r in records[..<keep] {
            state.answered[r.file, default: []].insert(r.pack)
            if r.failed { failed.insert(r.file) }
        }
        state.failedFiles = failed.count
        return state
    }

    /// The packs already answered for `item`: by its record name, or by any record naming the same file under
    /// another spelling (`big/x.wav` written, `$PWD/big/x.wav` resumed).
    func answeredPacks(for item: InputItem, byFile: [[UInt8]: Set<String>]) -> Set<String> {
        if let packs = answered[item.name] { return packs }
        return byFile[Self.identity(item.fileSystemPath)] ?? []
    }

    /// The answered packs keyed by the file each record names (resolved against the current folder, which
    /// `RunSettings.check` has made sure is the folder the records were written from).
    func answeredByFile() -> [[UInt8]: Set<String>] {
        var out: [[UInt8]: Set<String>] = [:]
        for (name, packs) in answered {
            guard let bytes = PathText.unescape(name) else { continue }
            out[Self.identity(bytes), default: []].formUnion(packs)
        }
        return out
    }

    /// A file's identity (`FileIdentity`: the rule a fresh run de-duplicates its inputs by).
    static func identity(_ path: [UInt8]) -> [UInt8] { FileIdentity.of(path) }

    /// Whether some kept record names its file by a relative path (which means something only in the folder the
    /// run that wrote it ran in).
    var hasRelativeNames: Bool { answered.keys.contains { !$0.hasPrefix("/") } }
}
