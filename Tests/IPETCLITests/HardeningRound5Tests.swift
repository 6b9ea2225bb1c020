import Foundation
import IPETFormats
import IPETTestSupport
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// What a hostile tester broke in round 5 (closed standard streams, a settings file written over an input, sample
/// rates that made a tiny file decode to gigabytes, queues of size zero, manifests from spreadsheet programs).
/// Every test failed before its fix.
final class HardeningRound5Tests: XCTestCase {
    private let demoBackbone = Fixtures.path("demo/backbone")
    private let demoPack = Fixtures.path("demo/packs/keywords.ipet")
    private let clips = [Fixtures.path("demo/clips/keywords/down.flac"), Fixtures.path("demo/clips/keywords/go.flac")]
    private let timeout: TimeInterval = 120

    /// Started with standard error (and standard output) closed, the output file must still hold only the records:
    /// it used to become descriptor 2 and receive every progress and summary line.
    func testClosedStandardStreamsNeverLeakIntoTheOutputFile() throws {
        let dir = Fixtures.temporaryDirectory("round5-streams")
        let normal = dir.appendingPathComponent("normal.jsonl").path
        let closed = dir.appendingPathComponent("closed.jsonl").path
        let args = ["predict", "--backbone", demoBackbone, "--pack", demoPack]
        let reference = try CommandRunner.run(args + ["-o", normal] + clips, timeout: timeout)
        XCTAssertEqual(reference.status, 0, reference.stderr)
        let result = try CommandRunner.run(args + ["-o", closed] + clips, timeout: timeout,
                                           launcher: ["/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&- 1>&-"])
        XCTAssertEqual(result.status, 0)
        XCTAssertEqual(try String(contentsOfFile: closed, encoding: .utf8), try String(contentsOfFile: normal, encoding: .utf8))
    }

    /// `-o /dev/stdout` with standard output appended to a file (`>> log`) appends: the old lines stay, and no
    /// settings file appears beside `/dev/stdout`. Opening the name anew used to start at offset 0 without append
    /// mode, and the file behind it was cut and given `/dev/stdout.ipet-run.json`.
    func testOutputToDevStdoutKeepsTheShellsAppendMode() throws {
        let dir = Fixtures.temporaryDirectory("round5-devstdout")
        let log = dir.appendingPathComponent("log").path
        try Data("old line\n".utf8).write(to: URL(fileURLWithPath: log))
        let stray = "/dev/stdout.ipet-run.json"
        let strayBefore = FileManager.default.fileExists(atPath: stray)
        let result = try CommandRunner.run(["predict", "--backbone", demoBackbone, "--pack", demoPack, "--quiet", "-o", "/dev/stdout", clips[0]],
                                           timeout: timeout, launcher: ["/bin/sh", "-c", "exec \"$0\" \"$@\" >> '\(log)'"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "old line")
        XCTAssertEqual(lines.count, 2, "\(lines)")
        XCTAssertTrue(lines.last?.contains("down.flac") == true, "\(lines)")
        if !strayBefore { XCTAssertFalse(FileManager.default.fileExists(atPath: stray)) }
    }

    /// The settings file `OUT.ipet-run.json` is refused when it would replace one of the run's inputs (a manifest
    /// or a pack of that name); it used to be written over it.
    func testTheSettingsFileNeverReplacesAnInput() throws {
        let dir = Fixtures.temporaryDirectory("round5-sidecar")
        let manifest = dir.appendingPathComponent("r.ipet-run.json").path
        let original = "{\"path\":\"\(clips[0])\"}\n"
        try Data(original.utf8).write(to: URL(fileURLWithPath: manifest))
        let output = dir.appendingPathComponent("r").path
        let result = try CommandRunner.run(["predict", "--backbone", demoBackbone, "--pack", demoPack, "--quiet", "-o", output, manifest],
                                           timeout: timeout)
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("r.ipet-run.json") && result.stderr.contains("one of this command's inputs"), result.stderr)
        XCTAssertEqual(try String(contentsOfFile: manifest, encoding: .utf8), original)

        let pack = dir.appendingPathComponent("kw.ipet-run.json").path
        try FileManager.default.copyItem(atPath: demoPack, toPath: pack)
        let second = try CommandRunner.run(["predict", "--backbone", demoBackbone, "--pack", pack, "--quiet",
                                            "-o", dir.appendingPathComponent("kw").path, clips[0]], timeout: timeout)
        XCTAssertEqual(second.status, 1)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: pack)), try Data(contentsOf: URL(fileURLWithPath: demoPack)))
    }

    /// `embed` with an input named `__metadata__` (the name safetensors reserves) is refused before anything is
    /// computed, naming the input; it used to compute every file and then fail blaming the output file.
    func testEmbedRefusesAnInputNamedLikeTheMetadataBeforeComputing() throws {
        let dir = Fixtures.temporaryDirectory("round5-embed")
        try FileManager.default.copyItem(atPath: clips[0], toPath: dir.appendingPathComponent("__metadata__").path)
        let output = dir.appendingPathComponent("e.safetensors").path
        let result = try CommandRunner.run(["embed", "--backbone", demoBackbone, "-o", output, "__metadata__", clips[1]],
                                           directory: dir, timeout: timeout)
        XCTAssertEqual(result.status, 1, result.stderr)
        XCTAssertTrue(result.stderr.contains("__metadata__") && result.stderr.contains("reserves"), result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: output))
    }

    /// `inspect` on a symbolic-link loop says so, instead of "no such file or directory".
    func testInspectNamesASymlinkLoop() throws {
        let dir = Fixtures.temporaryDirectory("round5-loop")
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("a").path, withDestinationPath: "b")
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("b").path, withDestinationPath: "a")
        let result = try CommandRunner.run(["inspect", dir.appendingPathComponent("a").path], timeout: timeout)
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("too many levels of symbolic links"), result.stderr)
    }
}
