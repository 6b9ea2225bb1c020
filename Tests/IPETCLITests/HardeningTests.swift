import Foundation
import IPETAudio
import IPETFormats
import IPETTestSupport
import XCTest

/// Inputs and options a careless or hostile user might give: each gets a clear error naming what is wrong, never
/// a crash, an unbounded allocation, a clobbered input or an output that looks complete when it is not.
final class HardeningTests: XCTestCase {
    private let backbone = Fixtures.path("demo/backbone")
    private let keywords = Fixtures.path("demo/packs/keywords.ipet")

    private func copy(_ relative: String, into dir: URL) throws -> String {
        let target = dir.appendingPathComponent((relative as NSString).lastPathComponent).path
        try FileManager.default.copyItem(atPath: Fixtures.path(relative), toPath: target)
        return target
    }

    /// `-o` naming one of the command's inputs is refused and the input stays as it was.
    func testOutputsNeverOverwriteTheCommandsInputs() throws {
        let dir = Fixtures.temporaryDirectory("hardening")
        let clip = try copy("demo/clips/keywords/yes.flac", into: dir)
        let before = try Data(contentsOf: URL(fileURLWithPath: clip))
        let model = dir.appendingPathComponent("backbone").path
        try FileManager.default.copyItem(atPath: backbone, toPath: model)
        let cases: [[String]] = [
            ["predict", "--backbone", backbone, "-o", clip, clip],
            ["predict", "--backbone", backbone, "-o", clip, dir.path],
            ["embed", "--backbone", backbone, "-o", clip, clip],
            ["convert", model, model + "/model.safetensors"],
        ]
        for args in cases {
            let result = try CommandRunner.run(args)
            XCTAssertEqual(result.status, 1, "\(args): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains("is one of this command's inputs"), "\(args): \(result.stderr)")
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: clip)), before)
        XCTAssertNoThrow(try SafeTensorsFile(path: model + "/model.safetensors"))
    }

    /// An output given as a symlink is written through: the link stays, its target gets the records.
    func testASymlinkOutputIsWrittenThrough() throws {
        let dir = Fixtures.temporaryDirectory("hardening")
        let target = dir.appendingPathComponent("records.jsonl").path
        _ = FileManager.default.createFile(atPath: target, contents: Data("old\n".utf8))
        let link = dir.appendingPathComponent("link.jsonl").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        let result = try CommandRunner.run(["predict", "--backbone", backbone, "--pack", keywords, "--quiet", "-o", link,
                                            Fixtures.path("demo/clips/keywords/yes.flac")])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: link), target)
        let text = try String(contentsOfFile: target, encoding: .utf8)
        XCTAssertTrue(text.hasPrefix("{\"file\""), text)
        XCTAssertFalse(text.contains("old"), text)
    }

    /// A failed write (here a full device) ends the command with status 1 and a message, not a crash; the device
    /// is written in place, never replaced by a file.
    func testAFullDiskIsAnErrorNotACrash() throws {
        try XCTSkipUnless(FileManager.default.isWritableFile(atPath: "/dev/full"), "no writable /dev/full here")
        let result = try CommandRunner.run(["predict", "--backbone", backbone, "--quiet", "-o", "/dev/full", Fixtures.path("demo/clips/keywords")])
        XCTAssertEqual(result.status, 1, result.stderr)
        XCTAssertTrue(result.stderr.contains("cannot write to /dev/full: No space left on device"), result.stderr)
        var info = stat()
        XCTAssertEqual(stat("/dev/full", &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFCHR, "/dev/full must still be a device")
    }

    /// Seconds options outside a sane range are usage errors (a 1 µs hop, infinity, NaN), never traps.
    func testWindowAndHopOutOfRangeAreUsageErrors() throws {
        let clip = Fixtures.path("demo/clips/keywords/yes.flac")
        for (option, value) in [("--window", "inf"), ("--window", "nan"), ("--window", "0.00003"), ("--window", "1e30"),
                                ("--hop", "1e-7"), ("--hop", "nan"), ("--hop", "inf"), ("--ext", ",")] {
            let result = try CommandRunner.run(["predict", "--backbone", backbone, option, value, clip])
            XCTAssertNotEqual(result.status, 0, "\(option) \(value)")
            XCTAssertTrue(result.stderr.contains("Error: \(option)"), "\(option) \(value): \(result.stderr)")
            XCTAssertFalse(result.stderr.contains("Fatal error"), result.stderr)
        }
    }

    /// A file claiming a 1 Hz sample rate would become 16,000 times longer when resampled: refused by length first.
    func testAbsurdSampleRatesAreRefusedBeforeResampling() throws {
        let dir = Fixtures.temporaryDirectory("hardening")
        let path = dir.appendingPathComponent("one_hertz.wav").path
        try AudioFileWriter.write(interleaved: syntheticAudio(seconds: 1, rate: 50_000, channels: 1, seed: 1), channels: 1,
                                  sampleRate: 1, format: .wavPCM16, to: path)
        let result = try CommandRunner.run(["predict", "--backbone", backbone, "--quiet", path])
        XCTAssertEqual(result.status, 2, result.stderr)
        XCTAssertTrue(result.stdout.contains("longer than the 12 h this tool reads"), result.stdout)
    }

    /// eval that could score nothing (every label unknown to the pack) fails instead of printing "accuracy 0".
    func testEvalWithNothingToScoreFails() throws {
        let dir = Fixtures.temporaryDirectory("hardening")
        let manifest = dir.appendingPathComponent("m.csv")
        try "path,label\n\(Fixtures.path("demo/clips/keywords/yes.flac")),banana\n".write(to: manifest, atomically: true, encoding: .utf8)
        let result = try CommandRunner.run(["eval", "--backbone", backbone, "--pack", keywords, "--manifest", manifest.path])
        XCTAssertEqual(result.status, 1, result.stdout)
        XCTAssertTrue(result.stderr.contains("no file could be evaluated"), result.stderr)
        XCTAssertTrue(result.stderr.contains("1 with labels the pack does not know"), result.stderr)
    }

    /// Pack metadata of the wrong type or out of range is an error naming the key, not a silent default.
    func testPackMetadataIsTypeAndRangeChecked() throws {
        let dir = Fixtures.temporaryDirectory("hardening")
        let source = try SafeTensorsFile(path: Fixtures.path("packs/w2v2-gn-postln.ipet"))
        let edits: [(String, String, JSONValue, String)] = [
            ("ipet.config", "adapter_scale", .string("0.5"), "ipet.config.adapter_scale must be a finite number"),
            ("ipet.config", "adapter_residual", .string("yes"), "ipet.config.adapter_residual must be true or false"),
            ("ipet.preprocessing", "crop_samples", .int(-1), "ipet.preprocessing.crop_samples must be an integer from 400"),
            ("ipet.preprocessing", "segments", .int(1_000_000_000), "ipet.preprocessing.segments must be an integer from 1 to 1000"),
            ("ipet.preprocessing", "sampling_rate", .int(8000), "trained on 8000 Hz audio, the backbone takes 16000 Hz"),
            ("ipet.head", "labels", .array([.int(1), .int(2)]), "ipet.head.labels must be a list of strings"),
            ("ipet.head", "layer_norm_eps", .int(-1), "ipet.head.layer_norm_eps must be a finite positive number"),
        ]
        for (section, key, value, message) in edits {
            guard case var .object(fields) = try JSONParser.parse(source.metadataValue(section)!) else { return XCTFail(section) }
            fields.removeAll { $0.key == key }
            fields.append((key, value))
            var writer = SafeTensorsWriter(metadata: source.metadata.map { $0.key == section ? ($0.key, JSONValue.object(fields).compactText) : $0 },
                                           recordsContentDigest: true)
            for name in source.tensorNames {
                writer.add(.init(name: name, shape: source.info(name)!.shape, floats: try source.floats(name)))
            }
            let path = dir.appendingPathComponent("edited.ipet").path
            try writer.write(to: path)
            let result = try CommandRunner.run(["predict", "--backbone", Fixtures.path("wav2vec2/gn-postln"), "--pack", path, "--quiet",
                                                Fixtures.path("audio/tone440_2s_16k.wav")])
            XCTAssertEqual(result.status, 1, "\(key): \(result.stdout)")
            XCTAssertTrue(result.stderr.contains(message), "\(key): \(result.stderr)")
        }
    }

    /// --resume redoes the file's last input (it may be incomplete: here a per-window run cut after 2 of its
    /// windows), keeps earlier failures counted (exit 2), and refuses a file that is not its format's output.
    func testResumeRedoesTheLastInputAndRefusesForeignFiles() throws {
        let dir = Fixtures.temporaryDirectory("hardening")
        let long = Fixtures.path("audio/chirp_6s_16k.wav"), bad = Fixtures.path("audio/bad_text.wav")
        let tinyB = Fixtures.path("ast/tiny-b")
        let reference = dir.appendingPathComponent("reference.jsonl").path
        let args = ["predict", "--backbone", tinyB, "--per-window", "--quiet"]
        XCTAssertEqual(try CommandRunner.run(args + ["-o", reference, bad, long]).status, 2)
        let full = try String(contentsOfFile: reference, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(full.count, 4)  // the error record, then three windows
        let cut = dir.appendingPathComponent("cut.jsonl").path
        try (full.prefix(3).joined(separator: "\n") + "\n").write(toFile: cut, atomically: true, encoding: .utf8)
        // A killed run leaves its settings file beside the records.
        try FileManager.default.copyItem(atPath: reference + ".ipet-run.json", toPath: cut + ".ipet-run.json")
        let resumed = try CommandRunner.run(args + ["--resume", "-o", cut, bad, long])
        XCTAssertEqual(resumed.status, 2, "the earlier failure still counts")
        XCTAssertTrue(resumed.stderr.contains("1 files already in"), resumed.stderr)
        XCTAssertEqual(try String(contentsOfFile: cut, encoding: .utf8).split(separator: "\n").map(String.init), full)

        let asCSV = try CommandRunner.run(["predict", "--backbone", tinyB, "--quiet", "--format", "csv", "--resume", "-o", reference, long])
        XCTAssertEqual(asCSV.status, 1)
        XCTAssertTrue(asCSV.stderr.contains("does not start with ipet predict's CSV header"), asCSV.stderr)
        let foreign = dir.appendingPathComponent("notes.jsonl").path
        try "{\"file\": \"a.wav\", \"top\": []}\nhello\n".write(toFile: foreign, atomically: true, encoding: .utf8)
        let refused = try CommandRunner.run(["predict", "--backbone", tinyB, "--quiet", "--resume", "-o", foreign, long])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("line 2 is not a JSON record"), refused.stderr)
        XCTAssertEqual(try String(contentsOfFile: reference, encoding: .utf8).split(separator: "\n").count, 4, "left as it was")
    }

    /// Audio given where a checkpoint belongs is named as audio, not as a safetensors file with a nonsensical header.
    func testAudioGivenAsACheckpointIsNamedAsSuch() throws {
        for (args, kind) in [(["inspect", Fixtures.path("demo/clips/keywords/yes.flac")], "a FLAC audio file"),
                             (["inspect", Fixtures.path("audio/tone440_2s_16k.wav")], "a WAV audio file"),
                             (["inspect", Fixtures.path("demo/README.md")], "a text file"),
                             (["predict", "--backbone", Fixtures.path("audio/tone440_2s_16k.wav"), Fixtures.path("demo/clips")], "a WAV audio file")] {
            let result = try CommandRunner.run(args)
            XCTAssertEqual(result.status, 1, result.stderr)
            XCTAssertTrue(result.stderr.contains("\(kind), not a checkpoint"), result.stderr)
        }
    }

    /// `convert --ipet-checkpoint` refuses normalisation values no pack could use, and options that only belong to
    /// the other form of the command.
    func testConvertRefusesUnusableOptions() throws {
        let out = Fixtures.temporaryDirectory("hardening").appendingPathComponent("p.ipet").path
        let base = ["convert", "--ipet-checkpoint", Fixtures.path("original/ipet-ast-tiny-a-short.pth"), "--backbone", Fixtures.path("ast/tiny-a"), out]
        for (extra, message) in [(["--std", "0"], "--std"), (["--std", "nan"], "--std"), (["--mean", "inf"], "--mean"), (["--frames", "0"], "--frames")] {
            let result = try CommandRunner.run(base + extra)
            XCTAssertNotEqual(result.status, 0, "\(extra)")
            XCTAssertTrue(result.stderr.contains(message), "\(extra): \(result.stderr)")
        }
        let stray = try CommandRunner.run(["convert", Fixtures.path("ast/tiny-a"), out, "--labels", "x.txt"])
        XCTAssertNotEqual(stray.status, 0)
        XCTAssertTrue(stray.stderr.contains("--labels"), stray.stderr)
    }

    /// One file named twice (two spellings) runs once; a name holding a newline stays on one table row.
    func testOneFileUnderTwoSpellingsRunsOnce() throws {
        let dir = Fixtures.temporaryDirectory("hardening")
        let odd = dir.appendingPathComponent("two\nlines.flac").path
        try FileManager.default.copyItem(atPath: Fixtures.path("demo/clips/keywords/yes.flac"), toPath: odd)
        let result = try CommandRunner.run(["predict", "--backbone", backbone, "--quiet", "--format", "table", "--top-k", "1",
                                            odd, dir.path + "/./two\nlines.flac", dir.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        let rows = result.stdout.split(separator: "\n")
        XCTAssertEqual(rows.count, 2, result.stdout)  // header + one row
        XCTAssertTrue(rows.last?.contains("two\\nlines.flac") ?? false, result.stdout)
    }

    /// The speaker-embedding cache is written too: never over the pack or the cohort; and a cache computed with
    /// another pack is refused instead of mixing embeddings from two models.
    func testVerifyCacheIsGuardedAndBoundToItsPack() throws {
        let dir = Fixtures.temporaryDirectory("hardening")
        let pack = try copy("packs/ast-tiny-a-speaker.ipet", into: dir)
        let before = try Data(contentsOf: URL(fileURLWithPath: pack))
        let trials = Fixtures.path("speaker/ast-tiny-a-speaker-trials.txt")
        let base = ["verify", "--trials", trials, "--backbone", Fixtures.path("ast/tiny-a"), "--audio-root", Fixtures.path("audio")]
        let clobber = try CommandRunner.run(base + ["--pack", pack, "--embeddings", pack])
        XCTAssertEqual(clobber.status, 1, clobber.stderr)
        XCTAssertTrue(clobber.stderr.contains("is one of this command's inputs"), clobber.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: pack)), before)

        let cache = dir.appendingPathComponent("cache.safetensors").path
        XCTAssertEqual(try CommandRunner.run(base + ["--pack", pack, "--embeddings", cache]).status, 0)
        let other = try CommandRunner.run(["verify", "--trials", trials, "--backbone", Fixtures.path("wav2vec2/gn-postln"), "--pack",
                                           Fixtures.path("packs/w2v2-gn-postln-speaker.ipet"), "--audio-root", Fixtures.path("audio"),
                                           "--embeddings", cache])
        XCTAssertEqual(other.status, 1, other.stderr)
        XCTAssertTrue(other.stderr.contains("its embeddings were computed with"), other.stderr)
    }

    /// eval's confusion outputs never overwrite the clips being evaluated; a pack that scored nothing gets a warning,
    /// not a report of "0 files, accuracy 0".
    func testEvalOutputsAreGuardedAndEmptyPackReportsAreLeftOut() throws {
        let dir = Fixtures.temporaryDirectory("hardening")
        let classDir = dir.appendingPathComponent("yes")
        try FileManager.default.createDirectory(at: classDir, withIntermediateDirectories: true)
        let clip = try copy("demo/clips/keywords/yes.flac", into: classDir)
        let before = try Data(contentsOf: URL(fileURLWithPath: clip))
        let clobber = try CommandRunner.run(["eval", "--backbone", backbone, "--pack", keywords, "--confusion-png", clip, dir.path])
        XCTAssertEqual(clobber.status, 1, clobber.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: clip)), before)
        let both = try CommandRunner.run(["eval", "--backbone", backbone, "--pack", keywords, "--pack", Fixtures.path("demo/packs/sounds.ipet"),
                                          "--json", "--quiet", dir.path])
        XCTAssertEqual(both.status, 0, both.stderr)
        XCTAssertEqual(both.stdout.split(separator: "\n").count, 1, both.stdout)
        XCTAssertTrue(both.stderr.contains("sounds: none of the files has one of its labels"), both.stderr)
    }

    /// Two different files under one output name (a.wav listed by manifests in two folders) are refused, and bench
    /// arguments out of range are usage errors, not traps.
    func testAmbiguousNamesAndBenchArguments() throws {
        let dir = Fixtures.temporaryDirectory("hardening")
        for sub in ["m1", "m2"] {
            let folder = dir.appendingPathComponent(sub)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: Fixtures.path(sub == "m1" ? "demo/clips/keywords/yes.flac" : "demo/clips/keywords/no.flac"),
                                             toPath: folder.appendingPathComponent("a.flac").path)
            try "path\na.flac\n".write(to: folder.appendingPathComponent("list.csv"), atomically: true, encoding: .utf8)
        }
        let result = try CommandRunner.run(["predict", "--backbone", backbone, "--quiet", dir.path + "/m1/list.csv", dir.path + "/m2/list.csv"])
        XCTAssertEqual(result.status, 1, result.stdout)
        XCTAssertTrue(result.stderr.contains("has the same output name \"a.flac\""), result.stderr)
        for args in [["--seconds=-1"], ["--seconds", "nan"], ["--seconds", "1e12"], ["--batch", "0"], ["--seconds", "abc"]] {
            let bench = try CommandRunner.run(["bench", "throughput", "--backbone", backbone, "--files", "1"] + args)
            XCTAssertEqual(bench.status, 64, "\(args): \(bench.stderr)")
            XCTAssertFalse(bench.stderr.contains("Fatal error"), bench.stderr)
        }
        for args in [["--threads", "0"], ["--threads", "x"], ["--threads", "1,x"], ["--threads", "1,,2"], ["--repeats", "0"]] {
            let peak = try CommandRunner.run(["bench", "peak"] + args)
            XCTAssertEqual(peak.status, 64, "\(args): \(peak.stderr)")
        }
        let peak = try CommandRunner.run(["bench", "peak", "--threads", "1", "--repeats", "1"])
        XCTAssertEqual(peak.status, 0, peak.stderr)
        XCTAssertTrue(peak.stdout.contains("GFLOP/s"), peak.stdout)
    }

    /// A config that does not describe the weights (another architecture, or fewer layers than the checkpoint has)
    /// is refused by convert and by predict, instead of writing a file that fails later or running a smaller model.
    func testConfigsThatDoNotDescribeTheWeightsAreRefused() throws {
        let dir = Fixtures.temporaryDirectory("hardening")
        let out = dir.appendingPathComponent("o.safetensors").path
        let wrong = try CommandRunner.run(["convert", Fixtures.path("ast/tiny-a"), out, "--config", Fixtures.path("wav2vec2/gn-postln/config.json")])
        XCTAssertEqual(wrong.status, 1, wrong.stderr)
        XCTAssertTrue(wrong.stderr.contains("missing tensor"), wrong.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        let model = dir.appendingPathComponent("tiny-a")
        try FileManager.default.copyItem(atPath: Fixtures.path("ast/tiny-a"), toPath: model.path)
        let configPath = model.appendingPathComponent("config.json")
        guard case var .object(fields) = try JSONParser.parse(String(contentsOf: configPath, encoding: .utf8)) else { return XCTFail() }
        fields.removeAll { $0.key == "num_hidden_layers" }
        fields.append(("num_hidden_layers", .int(1)))
        try JSONValue.object(fields).compactText.write(to: configPath, atomically: true, encoding: .utf8)
        for args in [["convert", model.path, out], ["predict", "--backbone", model.path, Fixtures.path("audio/tone440_2s_16k.wav")]] {
            let result = try CommandRunner.run(args)
            XCTAssertEqual(result.status, 1, "\(args[0]): \(result.stdout)")
            XCTAssertTrue(result.stderr.contains("which the configuration does not use"), result.stderr)
        }
    }

    /// `convert --ipet-checkpoint` only writes a pack that loads and verifies: a checkpoint for another backbone (no
    /// frozen tensor of it) is refused, and no output file is left behind.
    func testIPETCheckpointsThatDoNotMakeAValidPackAreRefused() throws {
        let out = Fixtures.temporaryDirectory("hardening").appendingPathComponent("p.ipet").path
        let result = try CommandRunner.run(["convert", "--ipet-checkpoint", Fixtures.path("original/ipet-ast-tiny-a-short.pth"),
                                            "--backbone", Fixtures.path("wav2vec2/gn-postln"), out])
        XCTAssertEqual(result.status, 1, result.stdout)
        XCTAssertTrue(result.stderr.contains("the checkpoint lacks 50 of the backbone's 50 frozen tensors"), result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        let ok = try CommandRunner.run(["convert", "--ipet-checkpoint", Fixtures.path("original/ipet-w2v2-gn-postln.pth"),
                                        "--backbone", Fixtures.path("wav2vec2/gn-postln"), out])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(try CommandRunner.run(["pack", "verify", out, "--backbone", Fixtures.path("wav2vec2/gn-postln")]).status, 0)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: (out as NSString).deletingLastPathComponent)
        XCTAssertEqual(leftovers, ["p.ipet"])
    }

    /// Errors quoting file contents name the file and stay one harmless line (control characters escaped).
    func testErrorsQuotingFileContentsAreNamedAndEscaped() throws {
        let model = Fixtures.temporaryDirectory("hardening").appendingPathComponent("m")
        try FileManager.default.copyItem(atPath: Fixtures.path("ast/tiny-a"), toPath: model.path)
        try "{\"feature_extractor_type\": \"X\\u001b[31mY\\nZ\"}".write(to: model.appendingPathComponent("preprocessor_config.json"),
                                                                        atomically: true, encoding: .utf8)
        let result = try CommandRunner.run(["predict", "--backbone", model.path, Fixtures.path("audio/tone440_2s_16k.wav")])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.hasPrefix("error: \(model.path): "), result.stderr)
        XCTAssertTrue(result.stderr.contains("X\\u{1b}[31mY\\u{a}Z"), result.stderr)
        XCTAssertFalse(result.stderr.contains("\u{1b}"), "raw escape in \(result.stderr)")
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
    }

    /// A clip of one frame cannot feed mean and standard-deviation pooling: say so, do not blame the audio's level.
    func testOneFrameClipsAreRefusedByStatisticsPooling() throws {
        let dir = Fixtures.temporaryDirectory("hardening")
        let path = dir.appendingPathComponent("short.wav").path
        try AudioFileWriter.write(interleaved: syntheticAudio(seconds: 0.025, rate: 16000, channels: 1, seed: 2), channels: 1,
                                  sampleRate: 16000, format: .wavPCM16, to: path)
        let result = try CommandRunner.run(["predict", "--backbone", Fixtures.path("wav2vec2/gn-postln"), "--pack",
                                            Fixtures.path("packs/w2v2-gn-postln.ipet"), "--quiet", path])
        XCTAssertEqual(result.status, 2, result.stderr)
        XCTAssertTrue(result.stdout.contains("needs at least 2"), result.stdout)
    }

    /// HDF5 files whose walk would not end or not stay bounded are refused on one line naming the file and object:
    /// a group linked to itself, groups nested 400 deep, three compressed GiB of zeros in a 3 MB file.
    func testInspectRefusesHDF5WalksThatWouldNotEndOrStayBounded() throws {
        let dir = Fixtures.temporaryDirectory("hardening")
        let cycle = dir.appendingPathComponent("cycle.h5").path, deep = dir.appendingPathComponent("deep.h5").path
        let bomb = dir.appendingPathComponent("bomb.h5").path
        try HDF5TestFile.selfLinkedGroup(at: cycle)
        try HDF5TestFile.nestedGroups(400, at: deep)
        try HDF5TestFile.compressedZeros(datasets: 3, elements: 1 << 28, keras: false, at: bomb)
        for (path, message) in [(cycle, "\"/a/self\": is the group already reached as \"/a\" (a link cycle"),
                                (deep, "groups nest deeper than 64 levels"), (bomb, "would decode to 3221225472 bytes")] {
            let result = try CommandRunner.run(["inspect", path])
            XCTAssertEqual(result.status, 1, result.stderr)
            XCTAssertTrue(result.stderr.hasPrefix("error: \(path): "), result.stderr)
            XCTAssertTrue(result.stderr.contains(message), result.stderr)
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
        }
    }

    /// `convert` writes the model's floating-point weights and names, one line each on stderr, every tensor of the
    /// input it leaves out (here an I64 and a BOOL buffer), instead of dropping them silently.
    func testConvertNamesEveryTensorItDrops() throws {
        let dir = Fixtures.temporaryDirectory("hardening")
        let model = dir.appendingPathComponent("tiny-a")
        try FileManager.default.copyItem(atPath: Fixtures.path("ast/tiny-a"), toPath: model.path)
        let weights = model.appendingPathComponent("model.safetensors").path
        let source = try SafeTensorsFile(path: weights)
        var writer = SafeTensorsWriter(metadata: source.metadata)
        for name in source.tensorNames {
            writer.add(.init(name: name, shape: source.info(name)!.shape, floats: try source.floats(name)))
        }
        let positions: [UInt8] = (0..<3).flatMap { i in withUnsafeBytes(of: Int64(i).littleEndian) { Array($0) } }
        writer.add(.init(name: "audio_spectrogram_transformer.embeddings.position_ids", dtype: .i64, shape: [1, 3], data: positions))
        writer.add(.init(name: "classifier.mask", dtype: .bool, shape: [2], data: [1, 0]))
        try writer.write(to: weights)
        let out = dir.appendingPathComponent("out.safetensors").path
        let result = try CommandRunner.run(["convert", model.path, out])
        XCTAssertEqual(result.status, 0, result.stderr)
        let notes = result.stderr.split(separator: "\n").map(String.init)
        XCTAssertEqual(notes.sorted(), [
            "note: dropped \"audio_spectrogram_transformer.embeddings.position_ids\" (I64): not floating point, so no weight of the model",
            "note: dropped \"classifier.mask\" (BOOL): not floating point, so no weight of the model",
        ], result.stderr)
        XCTAssertTrue(result.stdout.contains("wrote \(out): \(source.tensorNames.count) tensors"), result.stdout)
        XCTAssertEqual(try SafeTensorsFile(path: out).tensors.count, source.tensorNames.count)

        let plain = try CommandRunner.run(["convert", Fixtures.path("ast/tiny-a"), dir.appendingPathComponent("plain.safetensors").path])
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertEqual(plain.stderr, "", "nothing dropped, nothing said")
    }

    /// Formats are named for what they are: a legacy (pre-1.6) torch.save file is read (it used to be blamed on a
    /// safetensors header "exceeding the 100 MB limit"), also as a model folder's pytorch_model.bin; a 0-byte weight
    /// file is called empty; a single weight file without config.json is recognised from its tensor names in the
    /// transformers 5.x spelling as in the 4.x one (architecture and fingerprint).
    func testFormatsAreNamedForWhatTheyAre() throws {
        let legacy = try CommandRunner.run(["inspect", "--json", Fixtures.path("torch/legacy.pt")])
        XCTAssertEqual(legacy.status, 0, legacy.stderr)
        let report = try JSONParser.parse(legacy.stdout)
        XCTAssertEqual(report["format"]?.string, "torch")
        XCTAssertEqual(report["tensors"]?.array?.map { $0["name"]?.string }, ["a"])

        let dir = Fixtures.temporaryDirectory("hardening")
        let reference = try JSONParser.parse(try CommandRunner.run(["inspect", "--json", Fixtures.path("ast/tiny-a")]).stdout)
        let fingerprint = try XCTUnwrap(reference["fingerprint"]?.string)
        let folder = dir.appendingPathComponent("legacy-folder")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for name in ["config.json", "preprocessor_config.json"] {
            try FileManager.default.copyItem(atPath: Fixtures.path("ast/tiny-a/\(name)"), toPath: folder.appendingPathComponent(name).path)
        }
        let original = try Fixtures.safetensors("ast/tiny-a/model.safetensors")
        let file = LegacyTorchFile(tensors: original.tensors.map {
            .init(name: $0.name, dtype: $0.dtype, shape: $0.shape, data: Array(original.rawBytes($0)))
        })
        try Data(file.bytes).write(to: folder.appendingPathComponent("pytorch_model.bin"))
        let fromLegacy = try CommandRunner.run(["inspect", "--json", folder.path])
        XCTAssertEqual(fromLegacy.status, 0, fromLegacy.stderr)
        XCTAssertEqual(try JSONParser.parse(fromLegacy.stdout)["fingerprint"]?.string, fingerprint)

        let empty = dir.appendingPathComponent("empty-folder")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Fixtures.path("ast/tiny-a/config.json"), toPath: empty.appendingPathComponent("config.json").path)
        for name in ["pytorch_model.bin", "model.safetensors"] {
            let weights = empty.appendingPathComponent(name).path
            XCTAssertTrue(FileManager.default.createFile(atPath: weights, contents: Data()))
            for args in [["inspect", weights], ["inspect", empty.path], ["predict", "--backbone", empty.path, Fixtures.path("audio/tone440_2s_16k.wav")]] {
                let result = try CommandRunner.run(args)
                XCTAssertEqual(result.status, 1, "\(args): \(result.stderr)")
                XCTAssertEqual(result.stderr, "error: \(weights): an empty file (0 bytes), not a checkpoint (safetensors, PyTorch or HDF5)\n", "\(args)")
            }
            try FileManager.default.removeItem(atPath: weights)
        }

        var tar = [UInt8](repeating: 0, count: 1024)
        tar.replaceSubrange(0..<8, with: Array("data.pkl".utf8))
        tar.replaceSubrange(257..<263, with: Array("ustar\u{0}".utf8))
        let tarPath = dir.appendingPathComponent("old.pt").path
        try Data(tar).write(to: URL(fileURLWithPath: tarPath))
        let oldest = try CommandRunner.run(["inspect", tarPath])
        XCTAssertEqual(oldest.status, 1, oldest.stderr)
        XCTAssertTrue(oldest.stderr.contains("\(tarPath): a tar archive (the oldest torch.save format"), oldest.stderr)

        for spelling in ["tiny-a", "tiny-a-5x"] {
            let alone = dir.appendingPathComponent(spelling)
            try FileManager.default.createDirectory(at: alone, withIntermediateDirectories: true)
            let weights = alone.appendingPathComponent("model.safetensors").path
            try FileManager.default.copyItem(atPath: Fixtures.path("ast/\(spelling)/model.safetensors"), toPath: weights)
            let result = try CommandRunner.run(["inspect", "--json", weights])
            XCTAssertEqual(result.status, 0, result.stderr)
            let json = try JSONParser.parse(result.stdout)
            XCTAssertEqual(json["architecture"]?.string, "audio-spectrogram-transformer", spelling)
            XCTAssertEqual(json["architecture_from"]?.string, "tensor-names", spelling)
            XCTAssertEqual(json["fingerprint"]?.string, fingerprint, spelling)
            let table = try CommandRunner.run(["inspect", weights])
            XCTAssertTrue(table.stdout.contains("architecture: AST (Audio Spectrogram Transformer) (from the tensor names; no config)"), table.stdout)
            XCTAssertTrue(table.stdout.contains("fingerprint:  \(fingerprint)"), table.stdout)
        }
    }

    /// A NaN or infinity in a weight, or an epsilon no LayerNorm can use, used to pass `inspect` and then fail every
    /// input of `predict` as if its audio were bad. They are found when the checkpoint loads: exit 1, one line naming
    /// the tensor or the config key, for inspect, predict and convert alike.
    func testBadWeightsAndEpsilonsAreFoundAtLoad() throws {
        let dir = Fixtures.temporaryDirectory("hardening")
        let clip = Fixtures.path("audio/tone440_2s_16k.wav")
        func model(_ name: String, from fixture: String) throws -> URL {
            let url = dir.appendingPathComponent(name)
            try FileManager.default.copyItem(atPath: Fixtures.path(fixture), toPath: url.path)
            return url
        }
        func expectRefusal(_ model: URL, file: String, message: String, line: UInt = #line) throws {
            let out = dir.appendingPathComponent("out.safetensors").path
            for args in [["inspect", model.path], ["predict", "--backbone", model.path, "--quiet", clip], ["convert", model.path, out]] {
                let result = try CommandRunner.run(args)
                XCTAssertEqual(result.status, 1, "\(args[0]): \(result.stdout)\(result.stderr)", line: line)
                XCTAssertEqual(result.stdout, "", args[0], line: line)
                XCTAssertTrue(result.stderr.hasPrefix("error: \(file): "), "\(args[0]): \(result.stderr)", line: line)
                XCTAssertTrue(result.stderr.contains(message), "\(args[0]): \(result.stderr)", line: line)
                XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr, line: line)
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), line: line)
        }

        // Weights: one value replaced in a backbone weight (NaN, -inf) and in a head weight (+inf).
        let edits: [(String, Int, Float, String)] = [
            ("audio_spectrogram_transformer.encoder.layer.1.attention.attention.query.weight", 5, .nan, "1 non-finite value (first: NaN at element 5 of 4096)"),
            ("audio_spectrogram_transformer.embeddings.position_embeddings", 0, -.infinity, "1 non-finite value (first: -inf at element 0 of 38528)"),
            ("classifier.dense.bias", 4, .infinity, "1 non-finite value (first: +inf at element 4 of 5)"),
        ]
        for (i, (tensor, index, value, message)) in edits.enumerated() {
            let url = try model("weights-\(i)", from: "ast/tiny-a")
            let weights = url.appendingPathComponent("model.safetensors").path
            let source = try SafeTensorsFile(path: weights)
            var writer = SafeTensorsWriter(metadata: source.metadata)
            for name in source.tensorNames {
                var values = try source.floats(name)
                if name == tensor { values[index] = value }
                writer.add(.init(name: name, shape: source.info(name)!.shape, floats: values))
            }
            try writer.write(to: weights)
            try expectRefusal(url, file: url.path, message: "tensor \"\(tensor)\" holds \(message)")
        }

        // Epsilons: negative, zero, and a positive double that is 0 as float32; in AST and wav2vec 2.0 configs.
        for (fixture, value) in [("ast/tiny-a", "-1"), ("ast/tiny-a", "0"), ("wav2vec2/gn-postln", "1e-50")] {
            let url = try model("eps-\(fixture.replacing("/", with: "-"))-\(value)", from: fixture)
            let configPath = url.appendingPathComponent("config.json")
            guard case var .object(fields) = try JSONParser.parse(String(contentsOf: configPath, encoding: .utf8)) else { return XCTFail() }
            fields.removeAll { $0.key == "layer_norm_eps" }
            fields.append(("layer_norm_eps", try JSONParser.parse(value)))
            try JSONValue.object(fields).compactText.write(to: configPath, atomically: true, encoding: .utf8)
            let text = try JSONParser.parse(value).compactText
            try expectRefusal(url, file: configPath.path,
                              message: "config.json \"layer_norm_eps\" is \(text): an epsilon must be a finite number above 0")
        }
    }
}
