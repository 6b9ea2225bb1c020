/// Text quoted from a file into an error message (a tensor name, a pickle global, a config value) is untrusted: a
/// newline would split a one-line error, an escape sequence would recolour the terminal, and a megabyte-long name
/// would drown the message. Everything that quotes file contents goes through this one function: control
/// characters (U+0000–U+001F, U+007F) are escaped as `\u{hex}` and the text is cut to `limit` characters.
public func printableUntrusted(_ text: String, limit: Int = 160) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
        if out.count >= limit {
            out += "…"
            break
        }
        if scalar.value < 0x20 || scalar.value == 0x7F {
            out += "\\u{\(String(scalar.value, radix: 16))}"
        } else {
            out.unicodeScalars.append(scalar)
        }
    }
    return out
}
