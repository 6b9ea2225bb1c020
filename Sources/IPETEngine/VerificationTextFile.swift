import Foundation
import IPETFormats

/// The line-oriented text files of speaker verification (trial lists, score files): UTF-8, `#` comments, fields
/// separated by spaces or tabs, labels 1 (same speaker) or 0; errors name the file and the line.
enum VerificationTextFile {
    static func fieldCount(_ n: Int) -> String { n == 1 ? "1 field" : "\(n) fields" }

    static func parseLabel(_ field: Substring, path: String, line: Int) throws(EngineError) -> Bool {
        switch field {
        case "1": return true
        case "0": return false
        default:
            throw EngineError(
                path: path, line: line, "label \"\(field)\" must be 1 (same speaker) or 0 (different speakers)")
        }
    }

    static func readText(_ path: String) throws(EngineError) -> String {
        let data: [UInt8]
        do {
            data = try RegularFile.read(path, limit: 1 << 30)  // never blocks on a FIFO or reads a device forever
        } catch {
            throw EngineError(path: path, FileManager.default.fileExists(atPath: path) ? error.reason : "no such file")
        }
        // A UTF-8 byte-order mark (what spreadsheet programs write first) is not text of the file.
        guard let text = String(validating: data.starts(with: [0xEF, 0xBB, 0xBF]) ? data.dropFirst(3) : data[...], as: UTF8.self) else {
            throw EngineError(path: path, "not UTF-8 text")
        }
        return text
    }

    /// Calls `body(lineNumber, fields)` for every line that is not blank or a `#` comment; fields are split on spaces,
    /// tabs and a trailing carriage return. Byte-level, so 40,000-line files take milliseconds.
    static func forEachRecord(
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
}
