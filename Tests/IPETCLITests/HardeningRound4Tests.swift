import Foundation
import IPETEngine
import IPETFormats
import IPETTestSupport
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// What a hostile-but-realistic user broke in round 4: special files that blocked, names that vanished, windows
/// that were silently cut, resumes that lost or doubled records, CSV that was not CSV, and pack values that were
/// ignored or blamed on the wrong file. Every test failed before its fix.
final class HardeningRound4Tests: XCTestCase {
    private let demoBackbone = Fixtures.path("demo/backbone")
    private let demoPack = Fixtures.path("demo/packs/keywords.ipet")
    private let clip = Fixtures.path("demo/clips/keywords/down.flac")
    /// Long enough for any command here; a hang shows as `timedOut` instead of a stuck suite.
    private let timeout: TimeInterval = 60

    private func fifo(in dir: URL, _ name: String) -> String {
        let path = dir.appendingPathComponent(name).path
        XCTAssertEqual(mkfifo(path, 0o644), 0, "mkfifo \(path)")
        return path
    }

    private func lines(_ text: String) -> [String] { text.split(separator: "\n").map(String.init) }

    // MARK: 2. FIFOs and other special files never block

    func testAFIFOAmongTheInputsGetsAnErrorRecordAndNothingBlocks() throws {
        let dir = Fixtures.temporaryDirectory("round4")
        try FileManager.default.copyItem(atPath: clip, toPath: dir.appendingPathComponent("real.flac").path)
        _ = fifo(in: dir, "pipe.wav")
        let result = try CommandRunner.run(["predict", "--backbone", demoBackbone, "--pack", demoPack, "--quiet", dir.path], timeout: timeout)
        XCTAssertFalse(result.timedOut, "a FIFO among the inputs must not block")
        XCTAssertEqual(result.status, 2, result.stderr)
        let records = try lines(result.stdout).map { try JSONParser.parse($0) }
        XCTAssertEqual(records.count, 2)
        let pipe = try XCTUnwrap(records.first { $0["file"]?.string?.hasSuffix("pipe.wav") == true })
        XCTAssertTrue(pipe["error"]?.string?.contains("is a FIFO (named pipe), not a regular file") == true, "\(pipe)")
    }

    func testAFIFOWhereAFileIsExpectedIsAnErrorNotAHang() throws {
        let dir = Fixtures.temporaryDirectory("round4")
        // A model folder whose config.json, weights or shard is a FIFO; a FIFO as the pack, manifest or score file.
        func modelFolder(_ name: String, fifoAt fifoName: String, copying files: [String]) throws -> String {
            let folder = dir.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for file in files {
                try FileManager.default.copyItem(atPath: Fixtures.path("ast/tiny-a/\(file)"), toPath: folder.appendingPathComponent(file).path)
            }
            _ = fifo(in: folder, fifoName)
            return folder.path
        }
        let configFIFO = try modelFolder("config", fifoAt: "config.json", copying: ["model.safetensors"])
        let weightsFIFO = try modelFolder("weights", fifoAt: "model.safetensors", copying: ["config.json"])
        let sharded = try modelFolder("sharded", fifoAt: "model-00001-of-00001.safetensors", copying: ["config.json"])
        try #"{"weight_map": {"audio_spectrogram_transformer.layernorm.weight": "model-00001-of-00001.safetensors"}}"#
            .write(toFile: sharded + "/model.safetensors.index.json", atomically: true, encoding: .utf8)
        let packFIFO = fifo(in: dir, "pack.ipet")
        let manifestFIFO = fifo(in: dir, "list.csv")
        let scoresFIFO = fifo(in: dir, "scores.txt")
        let runs: [[String]] = [
            ["predict", "--backbone", configFIFO, clip], ["predict", "--backbone", weightsFIFO, clip],
            ["inspect", sharded], ["predict", "--backbone", demoBackbone, "--pack", packFIFO, clip],
            ["predict", "--backbone", demoBackbone, "--pack", demoPack, manifestFIFO], ["verify", "--scores", scoresFIFO],
        ]
        for args in runs {
            let result = try CommandRunner.run(args, timeout: timeout)
            XCTAssertFalse(result.timedOut, "\(args) blocked")
            XCTAssertEqual(result.status, 1, "\(args): \(result.stdout)")
            XCTAssertTrue(result.stderr.contains("is a FIFO (named pipe), not a regular file"), "\(args): \(result.stderr)")
        }
    }

    func testADeviceInAManifestIsRefusedByName() throws {
        let dir = Fixtures.temporaryDirectory("round4")
        let manifest = dir.appendingPathComponent("list.csv").path
        try "path,label\n/dev/zero,down\n\(clip),down\n".write(toFile: manifest, atomically: true, encoding: .utf8)
        let result = try CommandRunner.run(["predict", "--backbone", demoBackbone, "--pack", demoPack, "--quiet", manifest], timeout: timeout)
        XCTAssertFalse(result.timedOut)
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stdout.contains("is a character device, not a regular file"), result.stdout)
    }

    // MARK: 3. No silently dropped inputs

    /// Writes `clip` under a file name made of raw bytes (not necessarily UTF-8).
    private func copyClip(to folder: URL, rawName: [UInt8]) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: clip))
        let path = Array(folder.path.utf8) + [UInt8(ascii: "/")] + rawName
        let fd = open(path.map { CChar(bitPattern: $0) } + [0], O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        XCTAssertGreaterThanOrEqual(fd, 0)
        _ = data.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
        close(fd)
    }

    func testNamesThatAreNotUTF8GetTheirRecordsWithADocumentedEscape() throws {
        let outputs = Fixtures.temporaryDirectory("round4")
        let dir = outputs.appendingPathComponent("clips")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try copyClip(to: dir, rawName: Array("plain.flac".utf8))
        try copyClip(to: dir, rawName: [0x62, 0xFF, 0x2E, 0x66, 0x6C, 0x61, 0x63])  // "b\xff.flac"
        try copyClip(to: dir, rawName: [0x63, 0xC3, 0x28, 0x2E, 0x66, 0x6C, 0x61, 0x63])  // "c\xc3(.flac": a broken sequence
        try copyClip(to: dir, rawName: Array("d\\e.flac".utf8))  // a backslash
        for format in ["json", "csv"] {
            let out = outputs.appendingPathComponent("out.\(format)").path
            let result = try CommandRunner.run(["predict", "--backbone", demoBackbone, "--pack", demoPack, "--quiet", "--format", format,
                                                "-o", out, dir.path])
            XCTAssertEqual(result.status, 0, result.stderr)
            let text = try String(contentsOfFile: out, encoding: .utf8)
            XCTAssertEqual(lines(text).count, format == "csv" ? 5 : 4, text)
            XCTAssertTrue(text.contains("b\\\\xff.flac") || text.contains("b\\xff.flac"), text)
            XCTAssertTrue(text.contains("c\\\\xc3(.flac") || text.contains("c\\xc3(.flac"), text)
            // Resuming finds every one of them answered (the escaped names read back to the same files).
            let again = try CommandRunner.run(["predict", "--backbone", demoBackbone, "--pack", demoPack, "--format", format, "-o", out,
                                               "--resume", dir.path])
            XCTAssertEqual(again.status, 0, again.stderr)
            XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8), text, "nothing run twice")
        }
        let json = try String(contentsOfFile: outputs.appendingPathComponent("out.json").path, encoding: .utf8)
        let names = Set(try lines(json).map { try XCTUnwrap(JSONParser.parse($0)["file"]?.string) })
        XCTAssertTrue(names.contains(dir.path + "/b\\xff.flac"), "\(names)")
        XCTAssertTrue(names.contains(dir.path + "/d\\\\e.flac"), "a literal backslash is doubled: \(names)")
    }

    // MARK: 4. No silent truncation

    func testAWindowLongerThanTheModelInputIsRefused() throws {
        let result = try CommandRunner.run(["predict", "--backbone", demoBackbone, "--pack", demoPack, "--window", "20", clip])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("a 20 s window is longer than the 1.015 s keywords takes in one pass"), result.stderr)
    }

    // MARK: 5. --resume is safe

    private func predict(_ extra: [String], _ inputs: [String], output: String) throws -> CommandRunner.Result {
        try CommandRunner.run(["predict", "--backbone", demoBackbone, "--pack", demoPack, "--quiet", "-o", output] + extra + inputs)
    }

    func testARefusedResumeLeavesTheFileByteForByte() throws {
        let dir = Fixtures.temporaryDirectory("round4")
        let out = dir.appendingPathComponent("out.jsonl").path
        let clips = Fixtures.path("demo/clips/keywords")
        XCTAssertEqual(try predict([], [clips], output: out).status, 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: out))
        // The output also given as an input, other settings, a foreign file: each refused, nothing changed.
        for (extra, inputs, message) in [([String](), [clips, out], "is one of this command's inputs"),
                                          (["--top-k", "2"], [clips], "written with other settings (top_k 5 → 2)"),
                                          (["--logits"], [clips], "logits false → true")] {
            let result = try predict(["--resume"] + extra, inputs, output: out)
            XCTAssertEqual(result.status, 1, "\(extra)")
            XCTAssertTrue(result.stderr.contains(message), "\(extra): \(result.stderr)")
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)), before, "\(extra): the file must not change")
        }
        // A file without its settings file (an older ipet wrote it) is not resumed either.
        try FileManager.default.removeItem(atPath: out + ".ipet-run.json")
        let orphan = try predict(["--resume"], [clips], output: out)
        XCTAssertEqual(orphan.status, 1)
        XCTAssertTrue(orphan.stderr.contains("no \(out).ipet-run.json"), orphan.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)), before)
    }

    /// A second run on the same output is refused, naming the first's process id (here the test holds the lock).
    func testTwoRunsCannotWriteOneOutput() throws {
        let dir = Fixtures.temporaryDirectory("round4")
        let out = dir.appendingPathComponent("out.jsonl").path
        let fd = open(out, O_RDWR | O_CREAT, 0o644)
        defer { close(fd) }
        var lock = flock()
        lock.l_type = Int16(F_WRLCK)
        lock.l_whence = Int16(SEEK_SET)
        XCTAssertEqual(fcntl(fd, F_SETLK, &lock), 0)
        let result = try predict(["--resume"], [clip], output: out)
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("another ipet run (pid \(getpid())) is writing it"), result.stderr)
    }

    func testSpellingsOfOneInputAreOneInputForResumeAndShards() throws {
        let dir = Fixtures.temporaryDirectory("round4")
        let folder = dir.appendingPathComponent("big")
        try FileManager.default.copyItem(atPath: Fixtures.path("demo/clips/keywords"), toPath: folder.path)
        let count = try FileManager.default.contentsOfDirectory(atPath: folder.path).count
        let out = dir.appendingPathComponent("out.jsonl").path
        func run(_ args: [String]) throws -> CommandRunner.Result {
            try CommandRunner.run(["predict", "--backbone", demoBackbone, "--pack", demoPack, "--quiet"] + args, directory: dir)
        }
        // Half the records of a run over `big`, then resumed as `./big/` and as the absolute path: nothing doubled.
        XCTAssertEqual(try run(["-o", out, "big"]).status, 0)
        let all = lines(try String(contentsOfFile: out, encoding: .utf8))
        XCTAssertEqual(all.count, count)
        try (all.prefix(count / 2).joined(separator: "\n") + "\n").write(toFile: out, atomically: false, encoding: .utf8)
        XCTAssertEqual(try run(["-o", out, "--resume", "./big/"]).status, 0)
        XCTAssertEqual(lines(try String(contentsOfFile: out, encoding: .utf8)).count, count, "./big/ is big")
        XCTAssertEqual(try run(["-o", out, "--resume", folder.path]).status, 0)
        XCTAssertEqual(lines(try String(contentsOfFile: out, encoding: .utf8)).count, count, "an absolute spelling is the same input")
        // Two shards under two spellings partition the inputs.
        let first = try run(["--shard", "0/2", "big"]), second = try run(["--shard", "1/2", folder.path])
        let names = (lines(first.stdout) + lines(second.stdout)).map { try? JSONParser.parse($0)["file"]?.string ?? "" }
            .map { ($0 ?? "").split(separator: "/").last.map(String.init) ?? "" }
        XCTAssertEqual(names.count, count, "no file in both shards")
        XCTAssertEqual(Set(names).count, count, "every file in one shard")
    }

    // MARK: 6. CSV everywhere is RFC 4180

    func testQuotedManifestFieldsAndCSVRecordsRoundTrip() throws {
        let dir = Fixtures.temporaryDirectory("round4")
        let odd = dir.appendingPathComponent("two\nlines, \"quoted\".flac").path
        try FileManager.default.copyItem(atPath: clip, toPath: odd)
        let manifest = dir.appendingPathComponent("list.csv").path
        try "path,label\n\"two\nlines, \"\"quoted\"\".flac\",down\n".write(toFile: manifest, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("out.csv").path
        let result = try predict(["--format", "csv"], [manifest], output: out)
        XCTAssertEqual(result.status, 0, result.stderr)
        let records = try CSV.records(Array(try Data(contentsOf: URL(fileURLWithPath: out))))
        XCTAssertEqual(records.count, 2)
        XCTAssertEqual(records[1].fields[0], "two\nlines, \"quoted\".flac")
        XCTAssertEqual(records[1].fields[5], "down")
        // The tool resumes its own CSV with a newline inside a name.
        let again = try predict(["--format", "csv", "--resume"], [manifest], output: out)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(try CSV.records(Array(try Data(contentsOf: URL(fileURLWithPath: out)))).count, 2)
    }

    func testLabelsHoldingTheTopColumnsSeparatorsAreEscaped() throws {
        let dir = Fixtures.temporaryDirectory("round4")
        let pack = try rewritePack(demoPack, in: dir) { section, fields in
            guard section == "ipet.head" else { return }
            let labels = fields.first { $0.key == "labels" }!.value.array!.map { $0.string! }
            fields.removeAll { $0.key == "labels" }
            fields.append(("labels", .array(labels.enumerated().map { .string($0 == 0 ? "a;b:c\\d" : $1) })))
        }
        let result = try CommandRunner.run(["predict", "--backbone", demoBackbone, "--pack", pack, "--quiet", "--format", "csv",
                                            "--top-k", "10", clip])
        XCTAssertEqual(result.status, 0, result.stderr)
        let record = try XCTUnwrap(try CSV.records(Array(result.stdout.utf8)).last)
        XCTAssertTrue(record.fields[8].contains("a\\;b\\:c\\\\d:"), record.fields[8])
        XCTAssertEqual(record.fields[8].split(separator: ";", omittingEmptySubsequences: false).count, 11,
                       "ten entries and one escaped separator")
    }

    // MARK: 7, 8, 12, 13, 14. Pack values

    /// `pack` with each JSON section edited by `edit`, tensors added by `extra`, re-sealed with a content digest.
    private func rewritePack(_ pack: String, in dir: URL, name: String = "edited.ipet", extra: [(String, [Int], [Float])] = [],
                             edit: (String, inout [(key: String, value: JSONValue)]) -> Void) throws -> String {
        let source = try SafeTensorsFile(path: pack)
        var metadata: [(key: String, value: String)] = []
        for (key, value) in source.metadata {
            guard key.hasPrefix("ipet."), case var .object(fields)? = try? JSONParser.parse(value) else {
                metadata.append((key, value))
                continue
            }
            edit(key, &fields)
            metadata.append((key, JSONValue.object(fields).compactText))
        }
        var writer = SafeTensorsWriter(metadata: metadata, recordsContentDigest: true)
        for info in source.tensors {
            writer.add(.init(name: info.name, dtype: info.dtype, shape: info.shape, data: Array(source.rawBytes(info))))
        }
        for (n, shape, values) in extra { writer.add(.init(name: n, shape: shape, floats: values)) }
        let path = dir.appendingPathComponent(name).path
        try writer.write(to: path)
        return path
    }

    private func set(_ key: String, _ value: JSONValue, in section: String) -> (String, inout [(key: String, value: JSONValue)]) -> Void {
        { s, fields in
            guard s == section else { return }
            fields.removeAll { $0.key == key }
            fields.append((key, value))
        }
    }

    func testPackValuesAreCheckedAndBlamedOnThePack() throws {
        let dir = Fixtures.temporaryDirectory("round4")
        let prefix = "audio_spectrogram_transformer."
        let cases: [(String, [(String, [Int], [Float])], (String, inout [(key: String, value: JSONValue)]) -> Void)] = [
            ("override.\(prefix)no.such.weight names no tensor of the backbone", [("override.\(prefix)no.such.weight", [2], [1, 2])], { _, _ in }),
            ("override.head.norm.weight names no tensor", [("override.head.norm.weight", [2], [1, 2])], { _, _ in }),
            ("override.\(prefix)layernorm.weight has shape [3]; the backbone's", [("override.\(prefix)layernorm.weight", [3], [1, 2, 3])],
             { _, _ in }),
            ("ipet.config.prompt_tokens must be an integer from 0 to 1024", [], set("prompt_tokens", .int(16000), in: "ipet.config")),
            ("ipet.preprocessing.max_length must be an integer from 16 to 4096", [], set("max_length", .int(65536), in: "ipet.preprocessing")),
            ("ipet.preprocessing.std must be a finite positive number in float32 range", [], set("std", .double(1e-50), in: "ipet.preprocessing")),
            ("ipet.preprocessing.mean must be a finite number in float32 range", [], set("mean", .double(1e300), in: "ipet.preprocessing")),
            ("ipet.head.pooling must be", [], set("pooling", .string("max"), in: "ipet.head")),
            ("ipet.head.embedding_dim is 7", [], set("embedding_dim", .int(7), in: "ipet.head")),
            ("0 labels for a head with 10 outputs", [], set("labels", .array([]), in: "ipet.head")),
            ("an AST pack cannot set it", [], set("adapter_residual", .bool(true), in: "ipet.config")),
        ]
        for (message, extra, edit) in cases {
            let pack = try rewritePack(demoPack, in: dir, extra: extra, edit: edit)
            let result = try CommandRunner.run(["predict", "--backbone", demoBackbone, "--pack", pack, "--quiet", clip])
            XCTAssertEqual(result.status, 1, "\(message): \(result.stdout)")
            XCTAssertTrue(result.stderr.hasPrefix("error: \(pack): "), "blamed on the pack: \(result.stderr)")
            XCTAssertTrue(result.stderr.contains(message), "\(message): \(result.stderr)")
        }
    }

    func testAdapterResidualOnlyWhereTheOfficialCodeHasIt() throws {
        let dir = Fixtures.temporaryDirectory("round4")
        // Post-LN wav2vec 2.0 with adapters: allowed (the fixture pack does this). Without adapters, or pre-LN: refused.
        let noAdapters = try rewritePack(Fixtures.path("packs/w2v2-gn-postln-residual.ipet"), in: dir, name: "a.ipet",
                                         edit: set("adapter_bottleneck", .int(0), in: "ipet.config"))
        let result = try CommandRunner.run(["pack", "inspect", noAdapters])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("adapter_residual needs adapters"), result.stderr)
        let preLN = try rewritePack(Fixtures.path("packs/w2v2-ln-preln.ipet"), in: dir, name: "b.ipet",
                                    edit: set("adapter_residual", .bool(true), in: "ipet.config"))
        let refused = try CommandRunner.run(["predict", "--backbone", Fixtures.path("wav2vec2/ln-preln-seqcls"), "--pack", preLN, "--quiet",
                                             Fixtures.path("audio/tone440_2s_16k.wav")])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("this backbone is pre-LN"), refused.stderr)
    }

    func testAdapterScaleIsShownAsWritten() throws {
        let dir = Fixtures.temporaryDirectory("round4")
        let pack = try rewritePack(demoPack, in: dir, edit: set("adapter_scale", .double(0.37), in: "ipet.config"))
        let text = try CommandRunner.run(["pack", "inspect", pack])
        XCTAssertTrue(text.stdout.contains("scale 0.37\n") || text.stdout.contains("scale 0.37,"), text.stdout)
        let json = try CommandRunner.run(["pack", "inspect", "--json", pack])
        XCTAssertTrue(json.stdout.contains("\"adapter_scale\": 0.37"), json.stdout)
    }

    func testConflictingManifestRowsWarn() throws {
        let dir = Fixtures.temporaryDirectory("round4")
        let manifest = dir.appendingPathComponent("list.csv").path
        try "path,label\n\(clip),down\n\(clip),up\n".write(toFile: manifest, atomically: true, encoding: .utf8)
        let result = try CommandRunner.run(["eval", "--backbone", demoBackbone, "--pack", demoPack, "--quiet", "--manifest", manifest])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("warning: \(manifest): line 3 lists \(clip) with label \"up\", line 2 with \"down\""), result.stderr)
    }
}
