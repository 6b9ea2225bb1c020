import ArgumentParser
import Foundation
import IPETEngine
import IPETFormats

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Validate a checkpoint and show its metadata, tensors and architecture.",
        discussion: """
            PATH is anything ipet reads: a Hugging Face model folder (model.safetensors, pytorch_model.bin or \
            tf_model.h5, sharded or not), a .safetensors, PyTorch .bin/.pth, TensorFlow .h5 or ipet HDF5 file, or an \
            IPET pack (.ipet). Every tensor is listed with its dtype, integer and boolean ones too; the parameter \
            count counts floating-point tensors only (the weights) and says how many others it leaves out. The \
            fingerprint is the one packs are bound to (for a pack: the one it expects). A malformed file is reported \
            on one line (file and problem) with exit status 1.

            Examples:
              ipet inspect ast-audioset
              ipet inspect --json model.safetensors
            """)

    @Argument(help: ArgumentHelp("A model folder, a weight file or a pack.", valueName: "path"))
    var path: String

    @Flag(help: "Print one JSON object instead of the table.")
    var json = false

    func run() throws {
        let report: CheckpointInspection
        do {
            report = try CheckpointInspection.inspect(path)
        } catch {
            throw fail(error)
        }
        if json {
            emit(report.json.prettyText + "\n")
            return
        }
        var out = "path:         \(report.path)\n"
        out += "format:       \(report.format)\n"
        if let arch = report.architecture {
            out += "architecture: \(arch.displayName)"
            if !report.configClasses.isEmpty { out += " [\(report.configClasses.joined(separator: ", "))]" }
            if report.architectureFromTensorNames { out += " (from the tensor names; no config)" }
            out += "\n"
        } else {
            out += "architecture: unknown\(report.modelType.map { " (model_type \"\($0)\")" } ?? "")\n"
        }
        if !report.metadata.isEmpty {
            out += "metadata:\n"
            for (k, v) in report.metadata {
                let shown = v.count > 120 ? String(v.prefix(117)) + "..." : v
                out += "  \(k) = \(shown)\n"
            }
        }
        // Names come from the file: escaped, so a newline or escape sequence cannot break the table.
        let names = report.tensors.map { printableUntrusted($0.name, limit: 1000) }
        let nameWidth = max(4, names.map(\.count).max() ?? 0)
        let dtypeWidth = max(5, report.tensors.map(\.dtype.count).max() ?? 0)
        /// `text` followed by spaces up to `width` characters (the columns are sized to fit every row).
        func pad(_ text: String, _ width: Int) -> String {
            let count = text.count
            return count >= width ? text : text + String(repeating: " ", count: width - count)
        }
        out += "\n" + pad("name", nameWidth) + "  " + pad("dtype", dtypeWidth) + "  " + pad("shape", 22) + "bytes\n"
        for (t, name) in zip(report.tensors, names) {
            let shape = "[" + t.shape.map(String.init).joined(separator: ", ") + "]"
            out += pad(name, nameWidth) + "  " + pad(t.dtype, dtypeWidth) + "  " + pad(shape, max(22, shape.count + 1)) + "\(t.bytes)\n"
        }
        out += "\ntensors:      \(report.tensors.count)\n"
        out += "parameters:   \(report.parameterCount) (\(formatCount(report.parameterCount)))"
        if report.nonFloatTensorCount > 0 {
            let n = report.nonFloatTensorCount
            out += " in floating-point tensors; \(n) tensor\(n == 1 ? "" : "s") of other dtypes not counted"
        }
        out += "\n"
        out += "bytes:        \(report.byteCount)\n"
        if let fingerprint = report.fingerprint {
            out += report.format == "ipet-pack" ? "expects:      \(fingerprint)\n" : "fingerprint:  \(fingerprint)\n"
        }
        emit(out)
    }
}

/// 86594063 → "86.59 M".
func formatCount(_ n: Int) -> String {
    if n >= 1_000_000 { return String(format: "%.3f M", Double(n) / 1e6) }
    if n >= 1_000 { return String(format: "%.1f k", Double(n) / 1e3) }
    return "\(n)"
}
