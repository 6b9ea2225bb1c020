import Foundation
import IPETEngine
import IPETFormats
import IPETModels

/// The settings that decide what a `predict` run's records say, kept beside `-o FILE` in `FILE.ipet-run.json` so
/// that `--resume` can refuse to append records made another way (another `--top-k`, activation, window, pack or
/// backbone) to the ones already there.
struct RunSettings {
    let value: JSONValue

    static func sidecarPath(for output: String) -> String { output + ".ipet-run.json" }

    init(runner: BatchRunner, format: RecordFormat, topK: Int, logits: Bool, perWindow: Bool, window: Double?, hop: Double?) {
        let tasks: [JSONValue] = runner.tasks.map { task in
            let pack: JSONValue = task.pack.map { pack in
                .string(pack.contentDigest ?? ((try? FileDigest.sha256(path: pack.path)) ?? pack.path))
            } ?? .null
            return .object([("name", .string(task.name)), ("pack", pack), ("activation", .string(task.activation.rawValue))])
        }
        value = .object([
            ("format", .string("ipet-predict-run")), ("version", .int(1)),
            ("backbone", .string(runner.backbone.fingerprint)), ("tasks", .array(tasks)),
            ("output_format", .string(format.rawValue)), ("top_k", .int(topK)), ("logits", .bool(logits)),
            ("per_window", .bool(perWindow)), ("window", window.map(JSONValue.double) ?? .null), ("hop", hop.map(JSONValue.double) ?? .null),
        ])
    }

    /// Writes the settings beside `output`.
    func write(beside output: String) throws {
        try AtomicFile.write(Array((value.prettyText + "\n").utf8), to: Self.sidecarPath(for: output))
    }

    /// Refuses to resume `output` when its settings file is missing or says other settings wrote it.
    func check(resuming output: String) throws {
        let path = Self.sidecarPath(for: output)
        guard FileManager.default.fileExists(atPath: path) else {
            throw CommandError("\(output): it holds records but no \(path) saying which settings wrote them (an older ipet?); "
                               + "refusing to resume into it (run without --resume to start over, or choose another --output)")
        }
        let recorded: JSONValue
        do { recorded = try JSONFile.read(path) } catch { throw CommandError("\(error); refusing to resume \(output)") }
        guard let mine = value.object, let theirs = recorded.object else { throw CommandError("\(path): not a settings file") }
        let differences = mine.compactMap { key, v -> String? in
            let other = theirs.first(where: { $0.key == key })?.value ?? .null
            return other == v ? nil : "\(key) \(other.compactText) → \(v.compactText)"
        }
        guard differences.isEmpty else {
            throw CommandError("\(output): written with other settings (\(differences.joined(separator: "; "))); resuming would mix "
                               + "records, so it is refused (use the same options, or another --output)")
        }
    }
}
