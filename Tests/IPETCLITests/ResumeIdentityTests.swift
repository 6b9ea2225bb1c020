import Foundation
import IPETFormats
import IPETTestSupport
import XCTest

/// One identity rule for inputs, in fresh runs and in `--resume`: a file is its real path (symlinks, `.` and `..`
/// resolved); the first spelling runs, later spellings of the same file are dropped with a warning naming them. And a
/// resume from another folder than the run it continues is refused when the records name inputs relatively (they
/// would be matched to other files: inputs run twice, or skipped). Each test failed on the code before its fix.
final class ResumeIdentityTests: XCTestCase {
    private let demoBackbone = Fixtures.path("demo/backbone")
    private let demoPack = Fixtures.path("demo/packs/keywords.ipet")
    private let clips = Fixtures.path("demo/clips/keywords")

    private func run(_ args: [String], in directory: URL) throws -> CommandRunner.Result {
        try CommandRunner.run(["predict", "--backbone", demoBackbone, "--pack", demoPack, "--quiet"] + args, directory: directory)
    }

    private func names(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
            try JSONParser.parse(String($0))["file"]?.string ?? "?"
        }
    }

    private func keepLines(_ count: Int, of path: String) throws {
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").prefix(count)
        try lines.map { $0 + "\n" }.joined().write(toFile: path, atomically: false, encoding: .utf8)
    }

    /// `a b c` with `c` a symlink to `a`: the fresh run and the resumed run agree (before: the fresh run wrote three
    /// records, and a resume cut after two exited 0 without ever writing c's).
    func testASymlinkToAnotherInputIsOneInputInFreshAndResumedRuns() throws {
        let dir = Fixtures.temporaryDirectory("resume-identity")
        let input = dir.appendingPathComponent("in")
        try FileManager.default.createDirectory(at: input, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: clips + "/down.flac", toPath: input.appendingPathComponent("a.flac").path)
        try FileManager.default.copyItem(atPath: clips + "/yes.flac", toPath: input.appendingPathComponent("b.flac").path)
        try FileManager.default.createSymbolicLink(atPath: input.appendingPathComponent("c.flac").path, withDestinationPath: "a.flac")
        let out = dir.appendingPathComponent("out.jsonl").path
        let inputs = ["in/a.flac", "in/b.flac", "in/c.flac"]

        let fresh = try run(["-o", out] + inputs, in: dir)
        XCTAssertEqual(fresh.status, 0, fresh.stderr)
        XCTAssertEqual(try names(out), ["in/a.flac", "in/b.flac"], "a symlink to another input is that input")
        XCTAssertTrue(fresh.stderr.contains("warning: in/c.flac is the same file as in/a.flac"), fresh.stderr)

        for kept in [0, 1, 2] {
            XCTAssertEqual(try run(["-o", out] + inputs, in: dir).status, 0)
            try keepLines(kept, of: out)
            let resumed = try run(["-o", out, "--resume"] + inputs, in: dir)
            XCTAssertEqual(resumed.status, 0, resumed.stderr)
            XCTAssertEqual(try names(out).sorted(), ["in/a.flac", "in/b.flac"], "resumed after \(kept) records")
        }
    }

    /// One file under several spellings in one run runs once (the docs said so; before, each spelling ran).
    func testOneFileUnderManySpellingsRunsOnce() throws {
        let dir = Fixtures.temporaryDirectory("resume-identity")
        let input = dir.appendingPathComponent("in")
        try FileManager.default.createDirectory(at: input, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: clips + "/down.flac", toPath: input.appendingPathComponent("good.flac").path)
        try FileManager.default.copyItem(atPath: clips + "/yes.flac", toPath: input.appendingPathComponent("other.flac").path)
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("link").path, withDestinationPath: "in")
        try FileManager.default.createSymbolicLink(atPath: input.appendingPathComponent("selfdir").path, withDestinationPath: input.path)

        let spellings = try run(["in/good.flac", "in/../in/good.flac", "link/good.flac", dir.path + "/in/good.flac"], in: dir)
        XCTAssertEqual(spellings.status, 0, spellings.stderr)
        let records = spellings.stdout.split(separator: "\n")
        XCTAssertEqual(records.count, 1, spellings.stdout)
        XCTAssertEqual(try records.first.map { try JSONParser.parse(String($0))["file"]?.string }, "in/good.flac", spellings.stdout)
        for dropped in ["in/../in/good.flac", "link/good.flac"] {
            XCTAssertTrue(spellings.stderr.contains("warning: \(dropped) is the same file as in/good.flac"), spellings.stderr)
        }

        let folders = try run(["in", "in/selfdir", "link"], in: dir)
        XCTAssertEqual(folders.status, 0, folders.stderr)
        let files = try folders.stdout.split(separator: "\n").map { try JSONParser.parse(String($0))["file"]?.string ?? "?" }
        XCTAssertEqual(files, ["in/good.flac", "in/other.flac"], folders.stderr)
    }

    /// A run in /x over `many` (relative names), killed, resumed from another folder as `x/many`: refused with both
    /// folders named and the file unchanged (before: exit 0 with records doubled); resumed from /x it completes.
    func testResumingFromAnotherFolderIsRefusedNotDoubled() throws {
        let dir = Fixtures.temporaryDirectory("resume-identity")
        let x = dir.appendingPathComponent("x")
        try FileManager.default.createDirectory(at: x, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: clips, toPath: x.appendingPathComponent("many").path)
        let count = try FileManager.default.contentsOfDirectory(atPath: clips).count
        let out = dir.appendingPathComponent("d.jsonl").path

        XCTAssertEqual(try run(["-o", out, "many"], in: x).status, 0)
        try keepLines(count / 2, of: out)
        let before = try Data(contentsOf: URL(fileURLWithPath: out))
        let elsewhere = try run(["-o", out, "--resume", "x/many"], in: dir)
        XCTAssertEqual(elsewhere.status, 1, elsewhere.stderr)
        XCTAssertTrue(elsewhere.stderr.contains("resuming is refused"), elsewhere.stderr)
        XCTAssertTrue(elsewhere.stderr.contains(x.resolvingSymlinksInPath().path), elsewhere.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)), before, "a refused resume changes nothing")

        let there = try run(["-o", out, "--resume", "many"], in: x)
        XCTAssertEqual(there.status, 0, there.stderr)
        let written = try names(out)
        XCTAssertEqual(written.count, count)
        XCTAssertEqual(Set(written).count, count, "no input twice")

        // Absolute names mean the same from anywhere: such a run resumes from another folder.
        let folder = x.appendingPathComponent("many").path
        XCTAssertEqual(try run(["-o", out, folder], in: x).status, 0)
        try keepLines(count / 2, of: out)
        XCTAssertEqual(try run(["-o", out, "--resume", folder], in: dir).status, 0)
        XCTAssertEqual(Set(try names(out)).count, count)
        XCTAssertEqual(try names(out).count, count)

        // A settings file without the folder (an older ipet) resumes as before, with a warning.
        XCTAssertEqual(try run(["-o", out, "many"], in: x).status, 0)
        try keepLines(count / 2, of: out)
        let sidecar = out + ".ipet-run.json"
        let settings = try String(contentsOfFile: sidecar, encoding: .utf8)
        let withoutFolder = settings.split(separator: "\n").filter { !$0.contains("\"directory\"") }.joined(separator: "\n")
            .replacingOccurrences(of: ",\n}", with: "\n}")
        try withoutFolder.write(toFile: sidecar, atomically: true, encoding: .utf8)
        XCTAssertNil(try JSONParser.parse(withoutFolder)["directory"], withoutFolder)
        let old = try run(["-o", out, "--resume", "many"], in: x)
        XCTAssertEqual(old.status, 0, old.stderr)
        XCTAssertTrue(old.stderr.contains("does not say which folder"), old.stderr)
        XCTAssertEqual(Set(try names(out)).count, count)
        XCTAssertEqual(try names(out).count, count)
    }
}
