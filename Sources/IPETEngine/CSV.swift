import Foundation
import IPETFormats

/// CSV as RFC 4180 defines it, for manifests (input) and `--format csv` records (output, read back by `--resume`).
///
/// A quoted field may hold the separator, a doubled quote and line breaks; records end at a line break (LF or
/// CRLF) outside quotes. Our own reader rather than a package (SwiftCSV, CSV.swift): `--resume` needs each record's
/// byte range in the file, to cut a torn or incomplete last input, and whether the last record was terminated.
public enum CSV {
    /// One record: its fields and where its bytes lie in the input.
    public struct Record: Sendable, Equatable {
        public var fields: [String]
        /// Bytes of the record, including its line break when it has one.
        public var range: Range<Int>
        /// False for a last record without a line break (a torn write, or a file that ends without one).
        public var terminated: Bool
        /// 1-based line on which the record starts.
        public var line: Int
    }

    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public let line: Int
        public let reason: String
        public var description: String { "line \(line): \(reason)" }
    }

    /// Every record of `bytes` (UTF-8). A quote that is still open at the end makes the last record unterminated
    /// (what a killed writer leaves); a quote in the middle of an unquoted field, or text after a closing quote, is
    /// an error naming the line.
    public static func records(_ bytes: [UInt8], separator: UInt8 = UInt8(ascii: ",")) throws(ParseError) -> [Record] {
        let quote = UInt8(ascii: "\""), lf = UInt8(ascii: "\n"), cr = UInt8(ascii: "\r")
        var out: [Record] = []
        var fields: [String] = []
        var field: [UInt8] = []
        var inQuotes = false, wasQuoted = false
        var start = 0, line = 1, recordLine = 1
        var i = 0
        func endField() {
            fields.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
            wasQuoted = false
        }
        while i < bytes.count {
            let c = bytes[i]
            if inQuotes {
                if c == quote {
                    if i + 1 < bytes.count, bytes[i + 1] == quote {
                        field.append(quote)
                        i += 2
                        continue
                    }
                    inQuotes = false
                } else {
                    if c == lf { line += 1 }
                    field.append(c)
                }
                i += 1
                continue
            }
            switch c {
            case quote:
                guard field.isEmpty, !wasQuoted else { throw ParseError(line: line, reason: "a quote inside an unquoted field") }
                inQuotes = true
                wasQuoted = true
            case separator:
                endField()
            case lf, cr:
                let next = c == cr && i + 1 < bytes.count && bytes[i + 1] == lf ? i + 2 : i + 1
                endField()
                out.append(Record(fields: fields, range: start..<next, terminated: true, line: recordLine))
                fields = []
                i = next
                line += 1
                start = i
                recordLine = line
                continue
            default:
                guard !wasQuoted else { throw ParseError(line: line, reason: "text after a closing quote") }
                field.append(c)
            }
            i += 1
        }
        if start < bytes.count {
            endField()
            out.append(Record(fields: fields, range: start..<bytes.count, terminated: false, line: recordLine))
        }
        return out
    }

    /// The field as a CSV writer writes it: quoted when it holds a separator, a quote or a line break.
    public static func escape(_ field: String, separator: Character = ",") -> String {
        let special: Set<Unicode.Scalar> = [separator.unicodeScalars.first!, "\"", "\n", "\r"]
        guard field.unicodeScalars.contains(where: special.contains) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
