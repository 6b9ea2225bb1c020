/// How file names are written in records (JSON Lines, CSV, tables) and read back (`--resume`).
///
/// File names on Linux are bytes, not text: a folder can hold names that are not valid UTF-8, and each must still
/// get its record. Names are written as UTF-8 with two escapes, so that every name has exactly one spelling and
/// reads back to the same bytes:
///
/// - a byte that is not part of valid UTF-8 is written `\xNN` (two lower-case hex digits);
/// - a backslash is written `\\`.
///
/// Everything else is written as it is (JSON and CSV then quote the text by their own rules).
public enum PathText {
    /// The record spelling of the path `bytes`.
    public static func escape(_ bytes: [UInt8]) -> String {
        var out = ""
        var i = 0
        while i < bytes.count {
            let n = validSequenceLength(bytes, at: i)
            if n == 0 {
                out += "\\x" + String(bytes[i], radix: 16).leftPadded(to: 2)
                i += 1
            } else {
                let scalar = String(decoding: bytes[i..<(i + n)], as: UTF8.self)
                out += scalar == "\\" ? "\\\\" : scalar
                i += n
            }
        }
        return out
    }

    /// The bytes a record spelling stands for; nil when `text` is not a spelling `escape` produces.
    public static func unescape(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        let utf8 = Array(text.utf8)
        var i = 0
        while i < utf8.count {
            guard utf8[i] == UInt8(ascii: "\\") else {
                out.append(utf8[i])
                i += 1
                continue
            }
            guard i + 1 < utf8.count else { return nil }
            if utf8[i + 1] == UInt8(ascii: "\\") {
                out.append(utf8[i])
                i += 2
            } else if utf8[i + 1] == UInt8(ascii: "x"), i + 3 < utf8.count,
                let byte = UInt8(String(decoding: utf8[(i + 2)...(i + 3)], as: UTF8.self), radix: 16)
            {
                out.append(byte)
                i += 4
            } else {
                return nil
            }
        }
        // One spelling per name: `\x41` or `\x1f` (bytes `escape` writes as they are) or upper-case hex decode
        // fine but are not what `escape` writes, so two record names could stand for one file (ManifestFuzz).
        return Array(escape(out).utf8) == utf8 ? out : nil
    }

    /// The path written the one way records use: `./` components, repeated and trailing slashes removed
    /// (`./clips//a.wav` and `clips/a.wav` are the same input).
    public static func tidy(_ bytes: [UInt8]) -> [UInt8] {
        let slash = UInt8(ascii: "/")
        let absolute = bytes.first == slash
        let parts = bytes.split(separator: slash, omittingEmptySubsequences: true).filter { !($0.count == 1 && $0.first == UInt8(ascii: ".")) }
        var out: [UInt8] = absolute ? [slash] : []
        for (i, part) in parts.enumerated() {
            if i > 0 { out.append(slash) }
            out += part
        }
        return out.isEmpty ? (absolute ? [slash] : [UInt8(ascii: ".")]) : out
    }

    /// Length of the valid UTF-8 sequence starting at `i`, or 0 when the byte there does not start one.
    static func validSequenceLength(_ b: [UInt8], at i: Int) -> Int {
        let c = b[i]
        let n: Int
        switch c {
        case 0x00...0x7F: return 1
        case 0xC2...0xDF: n = 2
        case 0xE0...0xEF: n = 3
        case 0xF0...0xF4: n = 4
        default: return 0
        }
        guard i + n <= b.count else { return 0 }
        for k in 1..<n where b[i + k] & 0xC0 != 0x80 { return 0 }
        // Overlong forms, surrogates and code points past U+10FFFF are not valid UTF-8.
        if c == 0xE0 && b[i + 1] < 0xA0 { return 0 }
        if c == 0xED && b[i + 1] > 0x9F { return 0 }
        if c == 0xF0 && b[i + 1] < 0x90 { return 0 }
        if c == 0xF4 && b[i + 1] > 0x8F { return 0 }
        return n
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
