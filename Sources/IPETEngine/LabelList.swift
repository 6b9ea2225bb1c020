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
    public static func split(_ text: String) -> [String] {
        var out: [String] = []
        var current = ""
        var escaped = false
        for c in text {
            if escaped {
                current.append(c)
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else if c == ";" {
                out.append(current)
                current = ""
            } else {
                current.append(c)
            }
        }
        if escaped { current.append("\\") }
        out.append(current)
        return out.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// One label with `\`, `;` and `:` escaped.
    public static func escape(_ label: String) -> String {
        var out = ""
        for c in label {
            if c == "\\" || c == ";" || c == ":" { out.append("\\") }
            out.append(c)
        }
        return out
    }
}
