import Foundation
import IPETFormats
import IPETTestSupport
import XCTest

/// `ipet train` as users run it, on the demo's tiny AST and copies of its held-out keyword clips (3 classes).
final class TrainCommandTests: XCTestCase {
    private let backbone = Fixtures.path("demo/backbone")

    private func classFolders(_ classes: [String] = ["no", "stop", "yes"], count: Int = 8) throws -> URL {
        try DemoClassFolders.make(classes, count: count)
    }

    /// The error lines of a run's standard error (progress lines may precede them).
    private func errors(_ result: CommandRunner.Result) -> [String] {
        result.stderr.split(separator: "\n").map(String.init).filter { $0.hasPrefix("error: ") }
    }

    private func metadata(_ path: String) throws -> [String: String] {
        Dictionary(uniqueKeysWithValues: try SafeTensorsFile(path: path).metadata.map { ($0.key, $0.value) })
    }

    func testTrainsAPackWithProgressProvenanceAndThePythonExportsMetadata() throws {
        let dir = try classFolders()
        let out = dir.appendingPathComponent("kw.ipet").path
        let result = try CommandRunner.run(["train", "--backbone", backbone, "--data", "data", "--val-fraction", "0.25", "--epochs", "2",
                                            "--threads", "2", "--out", out], directory: dir)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.hasPrefix("wrote \(out): "), result.stdout)
        let epochs = result.stderr.split(separator: "\n").filter { $0.hasPrefix("epoch ") }
        XCTAssertEqual(epochs.count, 2, result.stderr)
        for word in ["loss", "train accuracy", "validation accuracy", " s"] { XCTAssertTrue(epochs[0].contains(word), String(epochs[0])) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + ".checkpoint"), "the checkpoint is removed once the pack is written")

        // The metadata keys a pack exported by tools/ipet_reference.py has, and the provenance of this run.
        let meta = try metadata(out)
        XCTAssertEqual(Set(meta.keys), Set(try metadata(Fixtures.path("packs/ast-tiny-a.ipet")).keys))
        XCTAssertEqual(meta["ipet.version"], "1.1")
        let provenance = try JSONParser.parse(try XCTUnwrap(meta["ipet.provenance"]))
        XCTAssertTrue(provenance["data"]?["fingerprint"]?.string?.hasPrefix("sha256:") ?? false)
        XCTAssertEqual(provenance["data"]?["classes"], .array(["no", "stop", "yes"].map(JSONValue.string)))
        XCTAssertEqual(provenance["data"]?["train_clips"]?.int, 18)
        XCTAssertEqual(provenance["data"]?["val_clips"]?.int, 6)
        XCTAssertEqual(provenance["recipe"]?["optimizer"]?["betas"], .array([.double(0.95), .double(0.999)]))
        XCTAssertEqual(provenance["history"]?.array?.count, 2)
        XCTAssertNotNil(provenance["metrics"]?["val_accuracy"]?.double)
        XCTAssertNil(provenance["history"]?.array?.first?["seconds"], "packs record no timings")

        let verify = try CommandRunner.run(["pack", "verify", "--backbone", backbone, out])
        XCTAssertEqual(verify.status, 0, verify.stderr + verify.stdout)
        let predict = try CommandRunner.run(["predict", "--backbone", backbone, "--pack", out, "--quiet", "data/yes"], directory: dir)
        XCTAssertEqual(predict.status, 0, predict.stderr)
        XCTAssertEqual(predict.stdout.split(separator: "\n").count, 8)
    }

    /// SIGKILL during the second of five epochs (dropout and SpecAugment on), then --resume: the same pack, byte for
    /// byte, as a run that was never interrupted. Resuming the checkpoint with another backbone is refused first.
    func testKilledRunResumesToTheSamePackBytes() throws {
        let dir = try classFolders()
        let common = ["train", "--backbone", backbone, "--data", "data", "--val-fraction", "0.25", "--epochs", "5", "--spec-augment", "8,10",
                      "--threads", "2"]
        let whole = try CommandRunner.run(common + ["--out", "whole.ipet"], directory: dir)
        XCTAssertEqual(whole.status, 0, whole.stderr)

        let process = Process()
        process.executableURL = CommandRunner.executable
        process.arguments = common + ["--out", "resumed.ipet"]
        process.currentDirectoryURL = dir
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let checkpoint = dir.appendingPathComponent("resumed.ipet.checkpoint").path
        let deadline = Date().addingTimeInterval(600)
        while !FileManager.default.fileExists(atPath: checkpoint), process.isRunning, Date() < deadline { usleep(20_000) }
        usleep(200_000)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .uncaughtSignal, "the run must still be training when it is killed")
        let history = try JSONParser.parse(try XCTUnwrap(try metadata(checkpoint)["history"])).array ?? []
        XCTAssertLessThan(history.count, 5, "killed before the last epoch")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("resumed.ipet").path))

        // The checkpoint belongs to this backbone: resuming it with another is refused, naming it, and leaves it intact.
        var otherBackbone = common
        otherBackbone[2] = Fixtures.path("ast/tiny-b")
        let refused = try CommandRunner.run(otherBackbone + ["--out", "resumed.ipet", "--resume"], directory: dir)
        XCTAssertEqual(refused.status, 1, refused.stderr)
        XCTAssertEqual(errors(refused).count, 1, refused.stderr)
        XCTAssertTrue(errors(refused).first?.hasPrefix("error: \(checkpoint): cannot continue this training run: it was made with the backbone ")
                      ?? false, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("train without --resume to start afresh"), refused.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: checkpoint))

        let resumed = try CommandRunner.run(common + ["--out", "resumed.ipet", "--resume"], directory: dir)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("resumed after epoch \(history.count)"), resumed.stderr)
        let a = try Data(contentsOf: dir.appendingPathComponent("whole.ipet"))
        let b = try Data(contentsOf: dir.appendingPathComponent("resumed.ipet"))
        XCTAssertEqual(a, b, "the resumed run's pack differs from the uninterrupted run's")
    }

    func testClassFolderWithoutAudioIsNamed() throws {
        let dir = try classFolders(["no", "yes"], count: 2)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("data/stop"), withIntermediateDirectories: true)
        let result = try CommandRunner.run(["train", "--backbone", backbone, "--data", "data", "--out", "x.ipet"], directory: dir)
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(errors(result).count, 1, result.stderr)
        XCTAssertTrue(result.stderr.hasPrefix("error: data/stop: no audio files in this folder"), result.stderr)
    }

    func testOneClassIsRefused() throws {
        let dir = try classFolders(["yes"], count: 2)
        let result = try CommandRunner.run(["train", "--backbone", backbone, "--data", "data", "--out", "x.ipet"], directory: dir)
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stderr, "error: data: has only one class (\"yes\"); a classifier needs at least two\n")
    }

    func testUnreadableFileStopsTheRunOrIsLeftOutAndListed() throws {
        let dir = try classFolders(["no", "yes"], count: 3)
        try FileManager.default.copyItem(atPath: Fixtures.path("audio/bad_text.wav"), toPath: dir.appendingPathComponent("data/yes/broken.wav").path)
        let failed = try CommandRunner.run(["train", "--backbone", backbone, "--data", "data", "--epochs", "1", "--out", "x.ipet"], directory: dir)
        XCTAssertEqual(failed.status, 1)
        XCTAssertEqual(errors(failed).count, 1, failed.stderr)
        XCTAssertTrue(errors(failed).first?.hasPrefix("error: data/yes/broken.wav: not an audio file") ?? false, failed.stderr)
        XCTAssertTrue(failed.stderr.contains("--on-bad-file skip"), failed.stderr)

        let skipped = try CommandRunner.run(["train", "--backbone", backbone, "--data", "data", "--epochs", "1", "--on-bad-file", "skip",
                                             "--out", "x.ipet"], directory: dir)
        XCTAssertEqual(skipped.status, 0, skipped.stderr)
        XCTAssertTrue(skipped.stderr.contains("warning: skipped data/yes/broken.wav: "), skipped.stderr)
        XCTAssertTrue(skipped.stderr.contains("left out 1 file(s): data/yes/broken.wav: "), skipped.stderr)
        let provenance = try JSONParser.parse(try XCTUnwrap(try metadata(dir.appendingPathComponent("x.ipet").path)["ipet.provenance"]))
        XCTAssertEqual(provenance["data"]?["skipped"]?.array?.count, 1)
        XCTAssertEqual(provenance["data"]?["train_clips"]?.int, 6)
    }

    func testOptionsThatDoNotFitTheBackboneAreRefused() throws {
        let dir = try classFolders(["no", "yes"], count: 2)
        let crop = try CommandRunner.run(["train", "--backbone", backbone, "--data", "data", "--crop-samples", "16000", "--out", "x.ipet"],
                                         directory: dir)
        XCTAssertEqual(crop.status, 1)
        XCTAssertEqual(errors(crop).count, 1, crop.stderr)
        XCTAssertTrue(errors(crop)[0].hasPrefix("error: \(backbone): is an AST, whose inputs have a length in frames; a crop in samples is for wav2vec 2.0"), crop.stderr)
        let head = try CommandRunner.run(["train", "--backbone", backbone, "--data", "data", "--head", "mean-std", "--out", "x.ipet"],
                                         directory: dir)
        XCTAssertEqual(head.status, 1)
        XCTAssertTrue(errors(head).first?.hasPrefix("error: \(backbone): head mean-std does not fit this backbone (audio-spectrogram-transformer)") ?? false, head.stderr)
    }
}
