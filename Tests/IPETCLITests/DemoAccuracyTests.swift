import Foundation
import IPETFormats
import IPETTestSupport
import XCTest

/// The bundled demo (Fixtures/demo, made by tools/make_demo.py): one tiny AST backbone, two IPET packs. Through the
/// Swift engine, as a user runs `ipet eval`, each pack classifies at least 90 % of its task's held-out clips
/// correctly, on at least 100 clips per task; and the engine still gives the figures committed in results.json.
final class DemoAccuracyTests: XCTestCase {
    private static let backbone = Fixtures.path("demo/backbone")

    /// `ipet eval --json` of one pack on one manifest: the single JSON object it prints.
    private func evaluate(pack: String, manifest: String) throws -> JSONValue {
        let result = try CommandRunner.run(["eval", "--backbone", Self.backbone, "--pack", Fixtures.path(pack),
                                            "--manifest", Fixtures.path(manifest), "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, result.stdout)
        return try JSONParser.parse(String(lines.first ?? "{}"))
    }

    /// The figures tools/make_demo.py recorded (`swift` is null when it ran without a Swift toolchain).
    private func committed(_ key: String) throws -> Double? {
        let text = try String(contentsOfFile: Fixtures.path("demo/results.json"), encoding: .utf8)
        return try JSONParser.parse(text)["swift"]?[key]?["accuracy"]?.double
    }

    private func checkHeldOut(task: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let report = try evaluate(pack: "demo/packs/\(task).ipet", manifest: "demo/heldout-\(task).csv")
        let files = report["files"]?.int ?? 0
        let accuracy = report["accuracy"]?.double ?? 0
        XCTAssertGreaterThanOrEqual(files, 100, "\(task): held-out clips", file: file, line: line)
        XCTAssertEqual(report["failed"]?.int, 0, "\(task): unreadable clips", file: file, line: line)
        XCTAssertEqual(report["pack"]?.string, task, file: file, line: line)
        XCTAssertGreaterThanOrEqual(accuracy, 0.90, "\(task): held-out accuracy \(accuracy); confusion \(report["confusion"].map { $0.compactText } ?? "?")",
                                    file: file, line: line)
        if let recorded = try committed("\(task)/ipet") {
            // Same engine, same files: only a different BLAS / CPU could move a borderline clip.
            XCTAssertEqual(accuracy, recorded, accuracy: 1.5 / Double(max(files, 1)),
                           "\(task): engine accuracy differs from Fixtures/demo/results.json (stale demo files?)", file: file, line: line)
        }
    }

    func testKeywordsPackClassifiesAtLeast90PercentOfHeldOutClips() throws {
        try checkHeldOut(task: "keywords")
    }

    func testSoundsPackClassifiesAtLeast90PercentOfHeldOutClips() throws {
        try checkHeldOut(task: "sounds")
    }

    /// The head-only baselines (same frozen backbone, k = 0, no adapters) run as packs too, give the figures the
    /// demo README quotes, and the IPET packs beat them on at least one task (the README says which).
    func testPacksBeatTheHeadOnlyBaselineOnAtLeastOneTask() throws {
        var margins: [String: Double] = [:]
        for task in ["keywords", "sounds"] {
            let pack = try evaluate(pack: "demo/packs/\(task).ipet", manifest: "demo/heldout-\(task).csv")
            let baseline = try evaluate(pack: "demo/baselines/\(task)-head-only.ipet", manifest: "demo/heldout-\(task).csv")
            let files = Double(baseline["files"]?.int ?? 1)
            let baselineAccuracy = try XCTUnwrap(baseline["accuracy"]?.double)
            if let recorded = try committed("\(task)/head_only") {
                XCTAssertEqual(baselineAccuracy, recorded, accuracy: 1.5 / files, "\(task) head-only baseline")
            }
            margins[task] = try XCTUnwrap(pack["accuracy"]?.double) - baselineAccuracy
        }
        XCTAssertTrue(margins.values.contains { $0 > 0 }, "IPET pack minus head-only accuracy: \(margins)")
    }

    /// The README's table: both packs over the demo folder, one row per clip and pack.
    func testBothPacksOverTheDemoFolderPrintATable() throws {
        let clips = (FileManager.default.enumerator(atPath: Fixtures.path("demo/clips"))?.allObjects as? [String] ?? [])
            .filter { $0.hasSuffix(".flac") }
        XCTAssertGreaterThanOrEqual(clips.count, 16)
        let result = try CommandRunner.run(["predict", "--backbone", Self.backbone, "--pack", Fixtures.path("demo/packs/keywords.ipet"),
                                            "--pack", Fixtures.path("demo/packs/sounds.ipet"), "--format", "json", "--quiet",
                                            Fixtures.path("demo/clips")])
        XCTAssertEqual(result.status, 0, result.stderr)
        let records = try result.stdout.split(separator: "\n").map { try JSONParser.parse(String($0)) }
        XCTAssertEqual(records.count, 2 * clips.count)
        XCTAssertEqual(Set(records.compactMap { $0["pack"]?.string }), ["keywords", "sounds"])
        XCTAssertTrue(records.allSatisfy { $0["error"] == nil }, result.stdout)
    }

    /// The table the README's first command prints: a header, then one row per clip and pack.
    func testTheFirstCommandsTableHasARowPerClipAndPack() throws {
        let result = try CommandRunner.run(["predict", "--backbone", Self.backbone, "--pack", Fixtures.path("demo/packs/keywords.ipet"),
                                            "--pack", Fixtures.path("demo/packs/sounds.ipet"), "--format", "table", "--top-k", "1",
                                            "--quiet", Fixtures.path("demo/clips")])
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.stdout.split(separator: "\n")
        XCTAssertTrue(lines.first?.hasPrefix("file") ?? false, result.stdout)
        let keywordRows = lines.filter { $0.contains("/clips/keywords/") && $0.contains(" keywords ") }
        let soundRows = lines.filter { $0.contains("/clips/sounds/") && $0.contains(" sounds ") }
        XCTAssertGreaterThanOrEqual(keywordRows.count, 8)
        XCTAssertGreaterThanOrEqual(soundRows.count, 8)
    }
}

/// The demo through an int8 backbone (`--compute int8`, `Formats/int8.md`): each pack's held-out accuracy drops by at
/// most half a point from float32's (measured: no drop, 94.7 % and 97.5 % both ways).
final class DemoInt8AccuracyTests: XCTestCase {
    private func accuracy(_ task: String, _ extra: [String]) throws -> Double {
        let result = try CommandRunner.run(["eval", "--backbone", Fixtures.path("demo/backbone"), "--pack", Fixtures.path("demo/packs/\(task).ipet"),
                                            "--manifest", Fixtures.path("demo/heldout-\(task).csv"), "--json"] + extra)
        XCTAssertEqual(result.status, 0, result.stderr)
        return try XCTUnwrap(try JSONParser.parse(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))["accuracy"]?.double)
    }

    func testInt8BackboneLosesAtMostHalfAPointPerPack() throws {
        for task in ["keywords", "sounds"] {
            let f32 = try accuracy(task, []), int8 = try accuracy(task, ["--compute", "int8"])
            XCTAssertGreaterThanOrEqual(int8, f32 - 0.005, "\(task): float32 \(f32), int8 \(int8)")
        }
    }
}
