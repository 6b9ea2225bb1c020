import Foundation
import IPETEngine
import IPETFormats
import IPETModels

/// The settings that decide what a `predict` run's records say, kept beside `-o FILE` in `FILE.ipet-run.json` so
/// that `--resume` can refuse to append records made another way (another `--top-k`, activation, window, pack or
/// backbone) to the ones already there. It also records the folder the run ran in (`directory`): record names are
/// the inputs as given, so relative names mean something only there, and a resume from another folder would match
/// them to the wrong files (running inputs twice, or skipping ones never run).
struct RunSettings {
    let value: JSONValue
    /// The key of the run's working folder: not a setting of the records, so checked on its own.
    static let directoryKey = "directory"

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
            (Self.directoryKey, .string(FileManager.default.currentDirectoryPath)),
        ])
    }

    /// Writes the settings beside `output`.
    func write(beside output: String) throws {
        try AtomicFile.write(Array((value.prettyText + "\n").utf8), to: Self.sidecarPath(for: output))
    }

    /// Refuses to resume `output` when its settings file is missing or says other settings wrote it, or when
    /// `relativeNames` (some kept record names a relative path) and the run that wrote it ran in another folder.
    /// A settings file from before `directory` was recorded is resumed as before, with a warning.
    func check(resuming output: String, relativeNames: Bool) throws {
        let path = Self.sidecarPath(for: output)
        guard FileManager.default.fileExists(atPath: path) else {
            throw CommandError("\(output): it holds records but no \(path) saying which settings wrote them (an older ipet?); "
                               + "refusing to resume into it (run without --resume to start over, or choose another --output)")
        }
        let recorded: JSONValue
        do { recorded = try JSONFile.read(path) } catch { throw CommandError("\(error); refusing to resume \(output)") }
        guard let mine = value.object, let theirs = recorded.object else { throw CommandError("\(path): not a settings file") }
        let differences = mine.filter { $0.key != Self.directoryKey }.compactMap { key, v -> String? in
            let other = theirs.first(where: { $0.key == key })?.value ?? .null
            return other == v ? nil : "\(key) \(other.compactText) → \(v.compactText)"
        }
        guard differences.isEmpty else {
            throw CommandError("\(output): written with other settings (\(differences.joined(separator: "; "))); resuming would mix "
                               + "records, so it is refused (use the same options, or another --output)")
        }
        guard relativeNames else { return }
        guard let directory = theirs.first(where: { $0.key == Self.directoryKey })?.value.string else {
            FileHandle.standardError.write(Data(("warning: \(path) does not say which folder the run that wrote \(output) ran in "
                + "(an older ipet); its records name inputs by relative paths, so resume from that same folder\n").utf8))
            return
        }
        let current = FileManager.default.currentDirectoryPath
        guard let was = FileIdentity.ofFolder(directory), was == FileIdentity.ofFolder(current) else {
            throw CommandError("\(output): its records name inputs relative to \(directory), the folder the run that wrote them ran "
                               + "in, but this run is in \(current); matching them from here could run inputs twice or skip "
                               + "some, so resuming is refused (cd \(directory) and resume there, or run without --resume)")
        }
    }
}
