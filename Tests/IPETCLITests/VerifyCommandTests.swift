import Foundation
import IPETFormats
import IPETTestSupport
import XCTest

/// `ipet verify` as a user runs it: metrics from a score file, and trial lists scored from cached embeddings.
final class VerifyCommandTests: XCTestCase {
    private static let scoreSets: JSONValue = {
        let text = try! String(contentsOfFile: Fixtures.path("verification/expected.json"), encoding: .utf8)
        return try! JSONParser.parse(text)["score_sets"]!
    }()
    private static let embeddingReference: JSONValue = {
        let text = try! String(contentsOfFile: Fixtures.path("verification/embeddings/expected.json"), encoding: .utf8)
        return try! JSONParser.parse(text)
    }()
    private let embeddings = Fixtures.path("verification/embeddings/embeddings.safetensors")
    private let cohort = Fixtures.path("verification/embeddings/cohort.safetensors")
    private let trials = Fixtures.path("verification/embeddings/trials.txt")

    private func referenceScores(_ field: String) -> [Double] {
        Self.embeddingReference["trials"]!.array!.map { $0[field]!.double! }
    }

    /// The value after `label` on the output line that starts with it.
    private func number(after label: String, in text: String) -> Double? {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(label) }) else { return nil }
        return Double(line.dropFirst(label.count).split(separator: " ").first ?? "")
    }

    func testScoresPrintsEERPercentAndMinDCFs() throws {
        let result = try CommandRunner.run(["verify", "--scores", Fixtures.path("verification/gaussian_10k.txt")])
        XCTAssertEqual(result.status, 0, result.stderr)
        let reference = Self.scoreSets["gaussian_10k"]!
        XCTAssertTrue(result.stdout.contains("10000 (3000 target, 7000 non-target)"), result.stdout)
        XCTAssertEqual(try XCTUnwrap(number(after: "EER", in: result.stdout)), reference["eer"]!.double! * 100, accuracy: 5e-5)
        XCTAssertTrue(result.stdout.contains(" %"), result.stdout)
        XCTAssertEqual(try XCTUnwrap(number(after: "minDCF p=0.01", in: result.stdout)), reference["min_dcf_p01"]!.double!, accuracy: 5e-6)
        XCTAssertEqual(try XCTUnwrap(number(after: "minDCF p=0.05", in: result.stdout)), reference["min_dcf_p05"]!.double!, accuracy: 5e-6)
    }

    func testJSONHasExactlyTheFourKeys() throws {
        let result = try CommandRunner.run(["verify", "--scores", Fixtures.path("verification/vox1o_size.txt"), "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout.split(separator: "\n").count, 1)
        let object = try JSONParser.parse(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        XCTAssertEqual(object.object?.map(\.key), ["eer", "min_dcf_p01", "min_dcf_p05", "trials"])
        let reference = Self.scoreSets["vox1o_size"]!
        XCTAssertEqual(object["eer"]!.double!, reference["eer"]!.double!, accuracy: 1e-6)  // a fraction
        XCTAssertEqual(object["min_dcf_p01"]!.double!, reference["min_dcf_p01"]!.double!, accuracy: 1e-6)
        XCTAssertEqual(object["min_dcf_p05"]!.double!, reference["min_dcf_p05"]!.double!, accuracy: 1e-6)
        XCTAssertEqual(object["trials"], .integer(.nonNegative(37_720)))
    }

    func testSingleClassExitsOneWithAClearMessage() throws {
        let result = try CommandRunner.run(["verify", "--scores", Fixtures.path("verification/single_class.txt")])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stdout, "")
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
        XCTAssertTrue(result.stderr.hasPrefix("error: "), result.stderr)
        XCTAssertTrue(result.stderr.contains("needs both target and non-target trials"), result.stderr)
    }

    func testMalformedScoreFileNamesTheLine() throws {
        let path = Fixtures.temporaryDirectory().appendingPathComponent("scores.txt").path
        try "1 0.9\n0 0.1\n0 NaN\n".write(toFile: path, atomically: true, encoding: .utf8)
        let result = try CommandRunner.run(["verify", "--scores", path])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stderr, "error: \(path):3: score \"NaN\" is not a finite number\n")
    }

    func testTrialsFromCachedEmbeddingsWriteScoresAndMetrics() throws {
        let output = Fixtures.temporaryDirectory().appendingPathComponent("scores.txt").path
        let result = try CommandRunner.run(["verify", "--trials", trials, "--embeddings", embeddings, "--output", output, "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let written = try String(contentsOfFile: output, encoding: .utf8)
        let lines = written.split(separator: "\n").filter { !$0.hasPrefix("#") }
        XCTAssertEqual(lines.count, 14)
        XCTAssertTrue(lines[0].hasSuffix(" id001/a/00001.wav id001/b/00002.wav"), String(lines[0]))
        let scores = lines.map { Double($0.split(separator: " ")[1])! }
        let reference = referenceScores("ipet")
        XCTAssertLessThan(zip(scores, reference).map { abs($0 - $1) }.max()!, 1e-5)

        // The metrics are those of the written scores; reading them back with --scores gives the same object.
        let again = try CommandRunner.run(["verify", "--scores", output, "--json"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(again.stdout, result.stdout)
        let object = try JSONParser.parse(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        XCTAssertEqual(object["trials"]?.int, 14)
    }

    func testCosineWithAdaptiveSNorm() throws {
        let output = Fixtures.temporaryDirectory().appendingPathComponent("scores.txt").path
        let result = try CommandRunner.run(["verify", "--trials", trials, "--embeddings", embeddings, "--scoring", "cosine",
                                            "--cohort", cohort, "--top-n", "3", "--output", output])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("EER"), result.stdout)
        let scores = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("#") }
            .map { Double($0.split(separator: " ")[1])! }
        XCTAssertLessThan(zip(scores, referenceScores("cosine_asnorm")).map { abs($0 - $1) }.max()!, 1e-4)
    }

    func testIPETRuleWithSNorm() throws {
        let output = Fixtures.temporaryDirectory().appendingPathComponent("scores.txt").path
        let result = try CommandRunner.run(["verify", "--trials", trials, "--embeddings", embeddings, "--cohort", cohort,
                                            "--output", output])
        XCTAssertEqual(result.status, 0, result.stderr)
        let scores = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("#") }
            .map { Double($0.split(separator: " ")[1])! }
        XCTAssertLessThan(zip(scores, referenceScores("ipet_snorm")).map { abs($0 - $1) }.max()!, 1e-4)
    }

    func testMissingEmbeddingWithoutBackboneIsAClearError() throws {
        let path = Fixtures.temporaryDirectory().appendingPathComponent("trials.txt").path
        try "1 id001/a/00001.wav id001/b/00002.wav\n0 id001/a/00001.wav id009/new.wav\n".write(toFile: path, atomically: true, encoding: .utf8)
        let result = try CommandRunner.run(["verify", "--trials", path, "--embeddings", embeddings])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("1 of 3 utterances have no embedding"), result.stderr)
        XCTAssertTrue(result.stderr.contains("\"id009/new.wav\""), result.stderr)
        XCTAssertTrue(result.stderr.contains("--backbone"), result.stderr)
    }

    func testMissingEmbeddingWithABadBackboneNamesIt() throws {
        let path = Fixtures.temporaryDirectory().appendingPathComponent("trials.txt").path
        try "0 id001/a/00001.wav id009/new.wav\n".write(toFile: path, atomically: true, encoding: .utf8)
        let result = try CommandRunner.run(["verify", "--trials", path, "--embeddings", embeddings, "--backbone", "/nonexistent/b", "--pack", "p"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("/nonexistent/b"), result.stderr)
    }

    func testMalformedTrialListNamesTheLine() throws {
        let path = Fixtures.temporaryDirectory().appendingPathComponent("trials.txt").path
        try "# trials\n1 a.wav b.wav\n1 a.wav\n".write(toFile: path, atomically: true, encoding: .utf8)
        let result = try CommandRunner.run(["verify", "--trials", path, "--embeddings", embeddings])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.hasPrefix("error: \(path):3: expected `label enrol test`"), result.stderr)
    }

    func testOptionCombinationsAreValidated() throws {
        let scores = Fixtures.path("verification/tiny.txt")
        let cases: [([String], String)] = [
            (["verify"], "give --scores FILE"),
            (["verify", "--scores", scores, "--trials", trials], "exclude each other"),
            (["verify", "--scores", scores, "--embeddings", embeddings], "--embeddings only apply with --trials"),
            (["verify", "--trials", trials], "give --embeddings FILE"),
            (["verify", "--trials", trials, "--embeddings", embeddings, "--top-n", "5"], "--top-n needs --cohort"),
            (["verify", "--trials", trials, "--embeddings", embeddings, "--cohort", cohort, "--top-n", "1"], "at least 2"),
            (["verify", "--trials", trials, "--embeddings", embeddings, "--scoring", "plda"], "plda"),
        ]
        for (args, message) in cases {
            let result = try CommandRunner.run(args)
            XCTAssertNotEqual(result.status, 0, args.joined(separator: " "))
            XCTAssertTrue(result.stderr.contains(message), "\(args): \(result.stderr)")
        }
        let tooMany = try CommandRunner.run(["verify", "--trials", trials, "--embeddings", embeddings, "--cohort", cohort, "--top-n", "7"])
        XCTAssertEqual(tooMany.status, 1)
        XCTAssertTrue(tooMany.stderr.contains("--top-n 7 is larger than the cohort (6 utterances)"), tooMany.stderr)
    }
}
