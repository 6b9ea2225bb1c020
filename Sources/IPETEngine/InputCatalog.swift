import Foundation
import IPETFormats
import Logging

/// Builds the list of inputs from files, folders and manifests (CSV or JSON Lines).
public enum InputCatalog {
    static let logger = Logger(label: "ipet.engine")

    /// The largest manifest read (a million rows of long paths fit many times over).
    public static let maximumManifestBytes = 1 << 30

    /// Expands `inputs` (files, folders searched recursively, manifests ending in .csv/.jsonl/.json), keeping
    /// only `extensions` inside folders (explicit files are always kept), sorted by name within each folder,
    /// de-duplicated by file (`FileIdentity`: one file under two spellings, or a symlink and its target, runs once,
    /// under the first spelling; each spelling dropped is named in a warning); a folder without any such file is an
    /// error.
    /// With `labelsFromFolders`, a file's label is the name of the folder below the given folder that contains it
    /// (`FOLDER/dog/x.wav` → "dog").
    public static func expand(
        _ inputs: [String], extensions: Set<String> = AudioInput.audioExtensions, labelsFromFolders: Bool = false
    ) throws -> [InputItem] {
        var out: [InputItem] = []
        var kept: [[UInt8]: String] = [:]  // identity → the record name it runs under
        var fileByName: [String: [UInt8]] = [:]
        var dropped: [(name: String, kept: String)] = []
        func add(_ item: InputItem) throws {
            // One file under two spellings (clips/a.wav, ./clips/a.wav, /abs/clips/a.wav, clips/../clips/a.wav, a path
            // through a symlinked folder, a symlink to another input) runs once, under the first; `--resume` matches
            // records to inputs by the same rule. Two files under one output name (a.wav from two manifests in
            // different folders) would make the records ambiguous.
            let key = FileIdentity.of(item.fileSystemPath)
            if let first = kept[key] {
                if first != item.name { dropped.append((item.name, first)) }
                return
            }
            kept[key] = item.name
            if let other = fileByName[item.name], other != key {
                throw EngineError(path: item.path, "has the same output name \"\(item.name)\" as \(PathText.escape(other)); "
                                         + "records would be ambiguous (list the files relative to one folder)")
            }
            fileByName[item.name] = key
            out.append(item)
        }
        for input in inputs {
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory)
            let ext = (input as NSString).pathExtension.lowercased()
            if exists, !isDirectory.boolValue, ["csv", "jsonl", "tsv"].contains(ext) || (ext == "json" && isJSONLines(input)) {
                let listed = try manifest(input)
                guard !listed.isEmpty else { throw EngineError(path: input, "the manifest lists no files") }
                for item in listed { try add(item) }
                continue
            }
            guard exists, isDirectory.boolValue else {
                try add(InputItem(path: input))  // missing files still get an error record
                continue
            }
            let root = PathText.tidy(Array(input.utf8))
            // Every entry whose extension matches, whatever its name's bytes or its file type: a FIFO or a device
            // named like audio gets an error record rather than vanishing (and is never opened in a way that blocks).
            let found = try FolderWalk.entries(below: root, name: input).filter { relative in
                guard let dot = relative.lastIndex(of: UInt8(ascii: ".")), !relative[dot...].contains(UInt8(ascii: "/")) else { return false }
                return extensions.contains(String(decoding: relative[(dot + 1)...], as: UTF8.self).lowercased())
            }
            guard !found.isEmpty else {
                // Most likely a wrong folder or a --ext that matches nothing; running on nothing would look like success.
                throw EngineError(path: input, "no audio files in this folder (looked for "
                                         + extensions.sorted().map { "." + $0 }.joined(separator: ", ") + ")")
            }
            for relative in found.map({ ($0, PathText.escape($0)) }).sorted(by: { $0.1 < $1.1 }).map(\.0) {
                let full = root == [UInt8(ascii: ".")] ? relative : root + [UInt8(ascii: "/")] + relative
                var labels: [String] = []
                if labelsFromFolders, relative.contains(UInt8(ascii: "/")), let first = relative.split(separator: UInt8(ascii: "/")).first {
                    labels = [PathText.escape(Array(first))]
                }
                try add(InputItem(fileSystemPath: full, labels: labels, shardKey: PathText.escape(relative)))
            }
        }
        reportDuplicates(dropped)
        return out
    }

    /// The most duplicate spellings named one by one; the rest are counted.
    static let duplicatesNamed = 10

    static func reportDuplicates(_ dropped: [(name: String, kept: String)]) {
        for d in dropped.prefix(duplicatesNamed) {
            logger.warning("\(d.name) is the same file as \(d.kept); it runs once, and its records are named \(d.kept)")
        }
        if dropped.count > duplicatesNamed {
            logger.warning("\(dropped.count - duplicatesNamed) more inputs are the same file as an earlier input under another spelling; each runs once, under its first spelling")
        }
    }

    /// A manifest row's path as records spell it (`PathText`).
    static func recordName(_ p: String) -> String { PathText.escape(PathText.tidy(Array(p.utf8))) }

    static func isJSONLines(_ path: String) -> Bool {
        (try? RegularFile.prefix(path, count: 1))?.first == UInt8(ascii: "{")
    }

    /// Reads a manifest: CSV/TSV with a header row naming a `path` (or `file`, `filename`, `audio`) column and an
    /// optional `label` (or `labels`, `class`) column; or JSON Lines with those keys. Relative paths are resolved
    /// against the manifest's folder; the output name is the path as written.
    public static func manifest(_ path: String) throws -> [InputItem] {
        let text: String
        do {
            // A UTF-8 byte-order mark (what spreadsheet programs write first) is not part of the first column's name.
            let bytes = try RegularFile.read(path, limit: maximumManifestBytes)
            guard let decoded = String(validating: bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? bytes.dropFirst(3) : bytes[...], as: UTF8.self) else {
                throw EngineError(path: path, "the manifest is not UTF-8 text")
            }
            text = decoded
        } catch let error as EngineError {
            throw error
        } catch {
            throw EngineError(path: path, "cannot read the manifest: \(detail(of: error, about: path))")
        }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent()
        func resolve(_ p: String) -> String { p.hasPrefix("/") ? p : base.appendingPathComponent(p).path }
        let pathKeys = ["path", "file", "filename", "audio"], labelKeys = ["label", "labels", "class"]
        var items: [InputItem] = []
        var labelsByPath: [String: (labels: [String], line: Int)] = [:]
        func add(_ p: String, _ labels: [String], line: Int) {
            // The same file listed twice with different labels is most likely a mistake in the manifest.
            if let earlier = labelsByPath[resolve(p)], earlier.labels != labels {
                let message = "\(path): line \(line) lists \(p) with label \"\(LabelList.join(labels))\", line \(earlier.line) with "
                    + "\"\(LabelList.join(earlier.labels))\"; the first is used"
                logger.warning("\(message)")
                return
            }
            labelsByPath[resolve(p)] = (labels, line)
            items.append(InputItem(path: resolve(p), name: recordName(p), labels: labels, shardKey: recordName(p)))
        }
        if path.lowercased().hasSuffix(".csv") || path.lowercased().hasSuffix(".tsv") {
            let records: [CSV.Record]
            do { records = try CSV.records(Array(text.utf8), separator: path.lowercased().hasSuffix(".tsv") ? 9 : 44) } catch {
                throw EngineError(path: path, "\(error)")
            }
            var header: [String]?
            for record in records {
                let fields = record.fields
                if fields.allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) { continue }
                guard let names = header else {
                    header = fields.map { $0.lowercased().trimmingCharacters(in: .whitespaces) }
                    guard header!.contains(where: pathKeys.contains) else {
                        throw EngineError(path: path, "the header row has no path column (one of \(pathKeys.joined(separator: ", ")))")
                    }
                    continue
                }
                guard fields.count == names.count else {
                    throw EngineError(path: path, "line \(record.line): \(fields.count) fields, the header has \(names.count)")
                }
                let row = Dictionary(zip(names, fields), uniquingKeysWith: { a, _ in a })
                guard let p = pathKeys.lazy.compactMap({ row[$0] }).first, !p.isEmpty else {
                    throw EngineError(path: path, "line \(record.line): empty path")
                }
                add(p, LabelList.split(labelKeys.lazy.compactMap { row[$0] }.first ?? ""), line: record.line)
            }
        } else {
            let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            for (number, raw) in lines.enumerated() {
                let line = raw.trimmingCharacters(in: .whitespaces)
                if line.isEmpty { continue }
                let object: JSONValue
                do { object = try JSONParser.parse(line) } catch {
                    throw EngineError(path: path, "line \(number + 1): \(error)")
                }
                guard let p = pathKeys.lazy.compactMap({ object[$0]?.string }).first else {
                    throw EngineError(path: path, "line \(number + 1): no \"path\" field")
                }
                // As in CSV: an empty path would resolve to the manifest's own folder.
                guard !p.isEmpty else { throw EngineError(path: path, "line \(number + 1): empty path") }
                var l: [String] = []
                for key in labelKeys {
                    if let s = object[key]?.string { l = LabelList.split(s) } else if let a = object[key]?.array { l = a.compactMap(\.string) }
                    if !l.isEmpty { break }
                }
                add(p, l, line: number + 1)
            }
        }
        return items
    }
}
