import Foundation
import IPETFormats

/// Builds the list of inputs from files, folders and manifests (CSV or JSON Lines).
public enum InputCatalog {
    /// Expands `inputs` (files, folders searched recursively, manifests ending in .csv/.jsonl/.json), keeping
    /// only `extensions` inside folders (explicit files are always kept), sorted by name within each folder,
    /// de-duplicated by file (one file under two spellings runs once); a folder without any such file is an error.
    /// With `labelsFromFolders`, a file's label is the name of the folder below the given folder that contains it
    /// (`FOLDER/dog/x.wav` → "dog").
    public static func expand(
        _ inputs: [String], extensions: Set<String> = AudioInput.audioExtensions, labelsFromFolders: Bool = false
    ) throws -> [InputItem] {
        var out: [InputItem] = []
        var seen = Set<String>()
        var fileByName: [String: String] = [:]
        func add(_ item: InputItem) throws {
            // One file under two spellings (clips/a.wav, ./clips/a.wav) runs once; two files under one output name
            // (a.wav from two manifests in different folders) would make the records ambiguous.
            let key = URL(fileURLWithPath: item.path).standardizedFileURL.path
            guard seen.insert(key).inserted else { return }
            if let other = fileByName[item.name], other != key {
                throw EngineError(path: item.path, "has the same output name \"\(item.name)\" as \(other); "
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
            guard let walker = FileManager.default.enumerator(atPath: input) else {
                throw EngineError(path: input, "cannot list folder")
            }
            var found: [String] = []
            while let relative = walker.nextObject() as? String {
                guard extensions.contains((relative as NSString).pathExtension.lowercased()) else { continue }
                let full = input.hasSuffix("/") ? input + relative : input + "/" + relative
                var dir: ObjCBool = false
                if FileManager.default.fileExists(atPath: full, isDirectory: &dir), !dir.boolValue { found.append(relative) }
            }
            guard !found.isEmpty else {
                // Most likely a wrong folder or a --ext that matches nothing; running on nothing would look like success.
                throw EngineError(path: input, "no audio files in this folder (looked for "
                                         + extensions.sorted().map { "." + $0 }.joined(separator: ", ") + ")")
            }
            for relative in found.sorted() {
                let full = input.hasSuffix("/") ? input + relative : input + "/" + relative
                var labels: [String] = []
                if labelsFromFolders, let first = relative.split(separator: "/").first, relative.contains("/") {
                    labels = [String(first)]
                }
                try add(InputItem(path: full, labels: labels))
            }
        }
        return out
    }

    static func isJSONLines(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path), let head = try? handle.read(upToCount: 1) else { return false }
        return head.first == UInt8(ascii: "{")
    }

    /// Reads a manifest: CSV/TSV with a header row naming a `path` (or `file`, `filename`, `audio`) column and an
    /// optional `label` (or `labels`, `class`) column; or JSON Lines with those keys. Relative paths are resolved
    /// against the manifest's folder; the output name is the path as written.
    public static func manifest(_ path: String) throws -> [InputItem] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw EngineError(path: path, "cannot read manifest: \(error.localizedDescription)")
        }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent()
        func resolve(_ p: String) -> String { p.hasPrefix("/") ? p : base.appendingPathComponent(p).path }
        func labels(_ s: String?) -> [String] {
            (s ?? "").split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        let pathKeys = ["path", "file", "filename", "audio"], labelKeys = ["label", "labels", "class"]
        var items: [InputItem] = []
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        if path.lowercased().hasSuffix(".csv") || path.lowercased().hasSuffix(".tsv") {
            let separator: Character = path.lowercased().hasSuffix(".tsv") ? "\t" : ","
            var header: [String]?
            for (number, raw) in lines.enumerated() {
                let line = String(raw).trimmingCharacters(in: CharacterSet(charactersIn: "\r"))
                if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
                let fields = CSV.split(line, separator: separator)
                guard let names = header else {
                    header = fields.map { $0.lowercased().trimmingCharacters(in: .whitespaces) }
                    guard header!.contains(where: pathKeys.contains) else {
                        throw EngineError(path: path, "the header row has no path column (one of \(pathKeys.joined(separator: ", ")))")
                    }
                    continue
                }
                guard fields.count == names.count else {
                    throw EngineError(path: path, "line \(number + 1): \(fields.count) fields, the header has \(names.count)")
                }
                let row = Dictionary(zip(names, fields), uniquingKeysWith: { a, _ in a })
                guard let p = pathKeys.lazy.compactMap({ row[$0] }).first, !p.isEmpty else {
                    throw EngineError(path: path, "line \(number + 1): empty path")
                }
                items.append(InputItem(path: resolve(p), name: p, labels: labels(labelKeys.lazy.compactMap { row[$0] }.first)))
            }
        } else {
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
                var l: [String] = []
                for key in labelKeys {
                    if let s = object[key]?.string { l = labels(s) } else if let a = object[key]?.array { l = a.compactMap(\.string) }
                    if !l.isEmpty { break }
                }
                items.append(InputItem(path: resolve(p), name: p, labels: l))
            }
        }
        return items
    }
}
