import Foundation
import IPETAudio
import IPETFormats
import IPETTestSupport
import XCTest

/// Batch inference over collections (issue: windows, batches, resume, shards, evaluation), run as a user would.
final class BatchInferenceTests: XCTestCase {
    /// A few hundred short files in mixed formats, rates, channel counts and lengths, plus broken ones.
    static let collection: (dir: URL, good: Int, broken: [String]) = {
        let dir = Fixtures.temporaryDirectory("collection")
        var random = TestRandom(seed: 42)
        let formats: [(AudioFileWriter.Format, String)] = [(.wavPCM16, "wav"), (.flacPCM16, "flac"), (.oggVorbis, "ogg"), (.wavFloat32, "wav")]
        let rates = [8000, 16000, 22050, 44100]
        var good = 0
        for i in 0..<240 {
            let (format, ext) = formats[i % formats.count]
            let rate = rates[random.int(0..<rates.count)]
            let channels = 1 + random.int(0..<2)
            let seconds = 0.3 + 2.2 * random.unit()
            let sub = dir.appendingPathComponent("part\(i % 3)")
            try? FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
            let path = sub.appendingPathComponent(String(format: "clip%03d.%@", i, ext)).path
            try! AudioFileWriter.write(interleaved: syntheticAudio(seconds: seconds, rate: rate, channels: channels, seed: UInt64(i)),
                                       channels: channels, sampleRate: rate, format: format, to: path)
            good += 1
        }
        var broken: [String] = []
        for name in ["bad_empty.wav", "bad_text.wav", "bad_truncated.wav", "tiny_300samples_16k.wav"] {
            let path = dir.appendingPathComponent("part0/\(name)").path
            try! FileManager.default.copyItem(atPath: Fixtures.path("audio/\(name)"), toPath: path)
            broken.append(path)
        }
        try! Data("RIFF\u{0}\u{0}".utf8).write(to: dir.appendingPathComponent("part1/garbage.flac"))
        broken.append(dir.appendingPathComponent("part1/garbage.flac").path)
        return (dir, good, broken)
    }()

    private let backbone = Fixtures.path("ast/tiny-a")
    private let packs = [Fixtures.path("packs/ast-tiny-a.ipet"), Fixtures.path("packs/ast-tiny-a-short.ipet")]

    private func records(_ path: String) throws -> [JSONValue] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { try JSONParser.parse(String($0)) }
    }

    private func run(_ args: [String]) throws -> CommandRunner.Result {
        try CommandRunner.run(["predict", "--backbone", backbone, "--quiet"] + packs.flatMap { ["--pack", $0] } + args)
    }

    func testCollectionGivesOneRecordPerFileAndPackAndReportsBrokenFiles() throws {
        let c = Self.collection
        let out = Fixtures.temporaryDirectory().appendingPathComponent("all.jsonl").path
        let result = try run(["--batch", "8", "-o", out, c.dir.path])
        XCTAssertEqual(result.status, 2, result.stderr)
        let all = try records(out)
        let files = c.good + c.broken.count
        XCTAssertEqual(all.count, files * packs.count)
        var seen = Set<String>()
        for r in all { XCTAssertTrue(seen.insert(r["file"]!.string! + "|" + r["pack"]!.string!).inserted, "duplicate \(r)") }
        let errors = all.filter { $0["error"] != nil }
        XCTAssertEqual(Set(errors.map { $0["file"]!.string! }), Set(c.broken))
        XCTAssertTrue(result.stderr.contains("\(c.broken.count) of \(files) files failed"), result.stderr)
    }

    func testBatchingDoesNotChangeTheAnswers() throws {
        let c = Self.collection
        let dir = Fixtures.temporaryDirectory()
        let one = dir.appendingPathComponent("b1.jsonl").path, eight = dir.appendingPathComponent("b8.jsonl").path
        _ = try run(["--batch", "1", "--logits", "--shard", "0/8", "-o", one, c.dir.path])
        _ = try run(["--batch", "8", "--logits", "--shard", "0/8", "-o", eight, c.dir.path])
        let a = try records(one), b = try records(eight)
        XCTAssertEqual(a.count, b.count)
        for (x, y) in zip(a, b) {
            XCTAssertEqual(x["file"], y["file"])
            guard let lx = x["logits"]?.array, let ly = y["logits"]?.array else { continue }
            XCTAssertLessThan(maxAbsDifference(lx.map { Float($0.double!) }, ly.map { Float($0.double!) }), 1e-4)
        }
    }

    func testShardsPartitionTheCollectionExactly() throws {
        let c = Self.collection
        let dir = Fixtures.temporaryDirectory()
        let part = c.dir.appendingPathComponent("part1").path
        let full = dir.appendingPathComponent("full.jsonl").path
        _ = try run(["-o", full, part])
        var union: [String] = []
        var sizes: [Int] = []
        for k in 0..<3 {
            let path = dir.appendingPathComponent("shard\(k).jsonl").path
            _ = try run(["--shard", "\(k)/3", "-o", path, part])
            let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
            sizes.append(lines.count)
            union += lines
        }
        let expected = try String(contentsOfFile: full, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(union.count, expected.count, "overlap or gap between shards")
        XCTAssertTrue(union.sorted() == expected.sorted(), "shards together differ from the unsharded run")
        XCTAssertTrue(sizes.allSatisfy { $0 > 0 }, "every shard gets work: \(sizes)")
    }

    func testRunKilledWithSIGKILLAndResumedEqualsAnUninterruptedRun() throws {
        let c = Self.collection
        let dir = Fixtures.temporaryDirectory("resume")
        let reference = dir.appendingPathComponent("reference.jsonl").path
        let part = c.dir.appendingPathComponent("part0").path
        _ = try run(["-o", reference, part])
        let killed = dir.appendingPathComponent("killed.jsonl").path
        let process = Process()
        process.executableURL = CommandRunner.executable
        process.arguments = ["predict", "--backbone", backbone, "--quiet"] + packs.flatMap { ["--pack", $0] } + ["-o", killed, part]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Wait until part of the work is written, then kill without warning.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let size = (try? FileManager.default.attributesOfItem(atPath: killed)[.size] as? Int) ?? 0
            if size > 8_000 { break }
            usleep(20_000)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .uncaughtSignal)
        let partial = try String(contentsOfFile: killed, encoding: .utf8).split(separator: "\n").count
        XCTAssertGreaterThan(partial, 0)
        let expectedCount = try String(contentsOfFile: reference, encoding: .utf8).split(separator: "\n").count
        XCTAssertLessThan(partial, expectedCount, "the run finished before it was killed")
        // Simulate the worst case too: a torn last line.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: killed))
        try handle.seekToEnd()
        handle.write(Data("{\"file\":\"torn".utf8))
        try handle.close()
        let resumed = try run(["--resume", "-o", killed, part])
        XCTAssertEqual(resumed.status, 2, resumed.stderr)
        let expected = try String(contentsOfFile: reference, encoding: .utf8).split(separator: "\n").map(String.init)
        let got = try String(contentsOfFile: killed, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(got.count, expected.count)
        XCTAssertTrue(got.sorted() == expected.sorted(), "resumed records differ from the uninterrupted run")
    }

    func testLongClipIsWindowedFirstWindowEqualsTransformersAndScoresAreAveraged() throws {
        let clip = Fixtures.path("audio/chirp_6s_16k.wav")
        let tinyB = Fixtures.path("ast/tiny-b")  // max_length 200 frames: three windows in 6 s
        let perWindow = try CommandRunner.run(["predict", "--backbone", tinyB, "--per-window", "--logits", "--quiet", "--top-k", "3", clip])
        XCTAssertEqual(perWindow.status, 0, perWindow.stderr)
        let windows = try perWindow.stdout.split(separator: "\n").map { try JSONParser.parse(String($0)) }
        // 200 frames need (200 − 1)·160 + 400 = 32 240 samples = 2.015 s; windows follow each other.
        XCTAssertEqual(windows.map { $0["start"]!.double! }, [0, 2.015, 4.03])
        // The last window is padded past the clip's end; its record says where the audio ended.
        XCTAssertEqual(windows.map { $0["end"]!.double! }, [2.015, 4.03, 6.0])
        let reference = try Fixtures.safetensors("ast/references/tiny-b.safetensors").floats("chirp_6s_16k.logits")
        let first = windows[0]["logits"]!.array!.map { Float($0.double!) }
        XCTAssertLessThan(maxAbsDifference(first, reference), 1e-4, "first window = transformers' truncating output")
        let off = try CommandRunner.run(["predict", "--backbone", tinyB, "--window", "0", "--logits", "--quiet", clip])
        let offRecord = try JSONParser.parse(off.stdout.trimmingCharacters(in: .newlines))
        let truncated = offRecord["logits"]!.array!.map { Float($0.double!) }
        XCTAssertLessThan(maxAbsDifference(truncated, reference), 1e-4, "--window 0 truncates like transformers")
        // ... and says so: the record gives the part scored, a warning the count.
        XCTAssertEqual(offRecord["start"]?.double, 0)
        XCTAssertEqual(offRecord["end"]?.double, 2.015)
        XCTAssertTrue(off.stderr.contains("warning: 1 of 1 inputs were scored on part of their audio only"), off.stderr)
        let averaged = try CommandRunner.run(["predict", "--backbone", tinyB, "--quiet", "--top-k", "3", clip])
        let record = try JSONParser.parse(averaged.stdout.trimmingCharacters(in: .newlines))
        XCTAssertEqual(record["windows"]?.int, 3)
        var meanScores: [String: Double] = [:]
        for w in windows { for t in w["top"]!.array! { meanScores[t["label"]!.string!, default: 0] += t["score"]!.double! / 3 } }
        for t in record["top"]!.array! {
            XCTAssertEqual(t["score"]!.double!, meanScores[t["label"]!.string!]!, accuracy: 1e-5)
        }
    }

    func testCSVAndTableFormats() throws {
        let clips = [Fixtures.path("audio/tone440_2s_16k.wav"), Fixtures.path("audio/bad_text.wav")]
        let csv = try CommandRunner.run(["predict", "--backbone", backbone, "--format", "csv", "--quiet"] + clips)
        let rows = csv.stdout.split(separator: "\n").map { CSVRow.split(String($0)) }
        XCTAssertEqual(rows.first, ["file", "pack", "start", "end", "windows", "label", "top_label", "top_score", "top", "error"])
        XCTAssertEqual(rows.count, 3)
        XCTAssertEqual(rows[1][0], clips[0])
        XCTAssertFalse(rows[1][6].isEmpty)
        XCTAssertFalse(rows[2][9].isEmpty, "error column")
        let table = try CommandRunner.run(["predict", "--backbone", backbone, "--format", "table", "--quiet"] + clips)
        XCTAssertTrue(table.stdout.contains("top label"), table.stdout)
        XCTAssertTrue(table.stdout.contains("error:"), table.stdout)
        // --top-k 3: the runners-up follow the score, best first; --top-k 1: no "next" column.
        let three = try CommandRunner.run(["predict", "--backbone", backbone, "--format", "table", "--top-k", "3", "--quiet", clips[0]])
        let json = try CommandRunner.run(["predict", "--backbone", backbone, "--top-k", "3", "--quiet", clips[0]])
        let top = try JSONParser.parse(json.stdout.trimmingCharacters(in: .newlines))["top"]?.array ?? []
        XCTAssertEqual(top.count, 3)
        let expected = top.dropFirst().map { "\($0["label"]!.string!) " + String(format: "%.3f", $0["score"]!.double!) }.joined(separator: ", ")
        let lines = three.stdout.split(separator: "\n")
        XCTAssertTrue(lines.first?.hasSuffix("score  next") ?? false, three.stdout)
        XCTAssertTrue(lines.last?.hasSuffix("  " + expected) ?? false, "\(three.stdout) vs \(expected)")
        let one = try CommandRunner.run(["predict", "--backbone", backbone, "--format", "table", "--top-k", "1", "--quiet", clips[0]])
        XCTAssertFalse(one.stdout.contains("next"), one.stdout)
    }

    func testManifestInputsCarryLabelsAndEvalMatchesAnIndependentComputation() throws {
        let c = Self.collection
        // A manifest over part2 with labels chosen from the pack's classes by a fixed rule.
        let labels = ["cat", "dog", "rain", "wind"]
        let files = try FileManager.default.contentsOfDirectory(atPath: c.dir.appendingPathComponent("part2").path).sorted()
        var manifest = "path,label\n"
        for (i, f) in files.enumerated() { manifest += "part2/\(f),\(labels[i % labels.count])\n" }
        let manifestPath = c.dir.appendingPathComponent("manifest.csv").path
        try manifest.write(toFile: manifestPath, atomically: true, encoding: .utf8)
        let pack = Fixtures.path("packs/ast-tiny-a.ipet")
        let predicted = try CommandRunner.run(["predict", "--backbone", backbone, "--pack", pack, "--quiet", "--top-k", "4", manifestPath])
        XCTAssertEqual(predicted.status, 0, predicted.stderr)
        let records = try predicted.stdout.split(separator: "\n").map { try JSONParser.parse(String($0)) }
        XCTAssertEqual(records.count, files.count)
        // Independent figures from the predictions.
        var correct = 0
        var confusion = Array(repeating: Array(repeating: 0, count: 4), count: 4)
        for r in records {
            let truth = labels.firstIndex(of: r["label"]!.string!)!
            let best = labels.firstIndex(of: r["top"]!.array![0]["label"]!.string!)!
            if truth == best { correct += 1 }
            confusion[truth][best] += 1
        }
        let eval = try CommandRunner.run(["eval", "--backbone", backbone, "--pack", pack, "--json", "--manifest", manifestPath])
        XCTAssertEqual(eval.status, 0, eval.stderr)
        let report = try JSONParser.parse(eval.stdout.trimmingCharacters(in: .newlines))
        XCTAssertEqual(report["files"]?.int, files.count)
        XCTAssertEqual(report["accuracy"]!.double!, Double(correct) / Double(files.count), accuracy: 1e-12)
        XCTAssertEqual(report["top5_accuracy"]!.double!, 1, accuracy: 1e-12)  // 4 classes: always in the top 5
        XCTAssertEqual(report["confusion"]!.array!.map { $0.array!.map { $0.int! } }, confusion)
        for (c, entry) in report["per_class"]!.array!.enumerated() {
            let tp = Double(confusion[c][c]), predictedCount = Double((0..<4).reduce(0) { $0 + confusion[$1][c] })
            let actual = Double(confusion[c].reduce(0, +))
            let p = predictedCount > 0 ? tp / predictedCount : 0, rcl = actual > 0 ? tp / actual : 0
            XCTAssertEqual(entry["precision"]!.double!, p, accuracy: 1e-12)
            XCTAssertEqual(entry["recall"]!.double!, rcl, accuracy: 1e-12)
            XCTAssertEqual(entry["f1"]!.double!, p + rcl > 0 ? 2 * p * rcl / (p + rcl) : 0, accuracy: 1e-12)
        }
        let png = c.dir.appendingPathComponent("confusion.png").path
        let csv = c.dir.appendingPathComponent("confusion.csv").path
        let withFiles = try CommandRunner.run(["eval", "--backbone", backbone, "--pack", pack, "--quiet", "--manifest", manifestPath,
                                               "--confusion-png", png, "--confusion-csv", csv])
        XCTAssertEqual(withFiles.status, 0, withFiles.stderr)
        XCTAssertTrue(withFiles.stdout.contains("accuracy"), withFiles.stdout)
        let pngBytes = try Data(contentsOf: URL(fileURLWithPath: png))
        XCTAssertEqual(Array(pngBytes.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        XCTAssertEqual(try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n").count, 5)
    }
}

/// CSV splitting for the tests (same rules as the tool's).
enum CSVRow {
    static func split(_ line: String) -> [String] {
        var fields: [String] = [], field = "", quoted = false
        var chars = Array(line)[...]
        while let c = chars.popFirst() {
            if quoted {
                if c == "\"" { if chars.first == "\"" { field.append("\""); chars.removeFirst() } else { quoted = false } } else { field.append(c) }
            } else if c == "\"" && field.isEmpty { quoted = true } else if c == "," { fields.append(field); field = "" } else { field.append(c) }
        }
        fields.append(field)
        return fields
    }
}
