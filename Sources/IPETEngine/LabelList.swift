import Foundation

/// Several labels in one text field: the `label` column of manifests and records (`dog;bark`) and the CSV `top`
/// column (`dog:0.91;cat:0.05`). Labels are free text, so the separators are escaped inside them: `\;`, `\:` and
/// `\\` stand for a literal `;`, `:` and `\`. Every list has one spelling and reads back to the same labels.
public enum LabelList {
    /// `labels` joined with `;`, each escaped.
    public static func join(_ labels: [String]) -> String {
        labels.map(escape).joined(separator: ";")
    }

    /// The labels of a `;`-separated field (escapes undone, surrounding spaces trimmed, empty entries dropped).
    ///
    /// Read by Unicode scalar, not by Character: a label may begin with a combining mark (a trimmed space before it),
    /// and as Characters `;` plus that mark is one grapheme, so the separator would vanish (ManifestFuzz property).
    public static func split(_ text: String) -> [String] {
        var out: [String] = []
        var current = String.UnicodeScalarView()
        var escaped = false
        for c in text.unicodeScalars {
            if escaped {
                current.append(c)
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else if c == ";" {
                out.append(String(current))
                current = String.UnicodeScalarView()
            } else {
                current.append(c)
            }
        }
        if escaped { current.append("\\") }
        out.append(String(current))
        return out.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// One label with `\`, `;` and `:` escaped (by Unicode scalar, as `split` reads them).
    public static func escape(_ label: String) -> String {
        var out = String.UnicodeScalarView()
        for c in label.unicodeScalars {
            if c == "\\" || c == ";" || c == ":" { out.append("\\") }
            out.append(c)
        }
        return String(out)
    }
}
