import Foundation
import IPETEngine
import IPETTestSupport
import XCTest

/// Trial lists (`label enrol test`) and score files (`label score`): what is accepted, and errors that name the line.
final class SpeakerVerificationTrialsTests: XCTestCase {
    func testFixtureTrialListWithTabsDoubleSpacesCommentsAndBlankLines() throws {
        let trials = try VerificationTrialList.read(path: Fixtures.path("verification/embeddings/trials.txt"))
        XCTAssertEqual(trials.count, 14)
        XCTAssertEqual(trials[0], VerificationTrial(isTarget: true, enrol: "id001/a/00001.wav", test: "id001/b/00002.wav"))
        XCTAssertEqual(trials[3], VerificationTrial(isTarget: true, enrol: "id002/a/00001.wav", test: "id002/b/00002.wav"))
        XCTAssertEqual(trials.filter(\.isTarget).count, 7)
        XCTAssertEqual(VerificationTrialList.utterances(trials).count, 8)
    }

    func testCRLFAndIndentedCommentsParse() throws {
        let text = "# header\r\n  # indented comment\r\n1 a.wav b.wav\r\n\r\n0\ta.wav  c.wav \r\n"
        let trials = try VerificationTrialList.parse(text, path: "t.txt")
        XCTAssertEqual(trials, [VerificationTrial(isTarget: true, enrol: "a.wav", test: "b.wav"),
                                VerificationTrial(isTarget: false, enrol: "a.wav", test: "c.wav")])
    }

    func testMalformedTrialLineNamesFileAndLine() {
        let text = "1 a.wav b.wav\n\n1 a.wav\n"
        XCTAssertThrowsError(try VerificationTrialList.parse(text, path: "trials.txt")) { error in
            let e = error as? EngineError
            XCTAssertEqual(e?.line, 3)
            XCTAssertTrue("\(error)".hasPrefix("trials.txt:3: "), "\(error)")
            XCTAssertTrue("\(error)".contains("label enrol test"), "\(error)")
            XCTAssertTrue("\(error)".contains("2 fields"), "\(error)")
        }
        XCTAssertThrowsError(try VerificationTrialList.parse("1 a b\n1 a b c\n", path: "t")) { error in
            XCTAssertTrue("\(error)".hasPrefix("t:2: "), "\(error)")
        }
    }

    func testTrialLabelMustBeZeroOrOne() {
        XCTAssertThrowsError(try VerificationTrialList.parse("# x\ntarget a.wav b.wav\n", path: "t.txt")) { error in
            XCTAssertTrue("\(error)".hasPrefix("t.txt:2: "), "\(error)")
            XCTAssertTrue("\(error)".contains("\"target\" must be 1 (same speaker) or 0"), "\(error)")
        }
    }

    func testMissingTrialFileIsAnError() {
        XCTAssertThrowsError(try VerificationTrialList.read(path: "/nonexistent/trials.txt")) { error in
            XCTAssertEqual("\(error)", "/nonexistent/trials.txt: no such file")
        }
    }

    func testScoreFileReadsLabelScoreAndIgnoresExtraFields() throws {
        let scores = try VerificationScoreFile.parse("# c\n1 0.5\n0\t-1e-3 enrol.wav test.wav\n\n1 +2\n", path: "s.txt")
        XCTAssertEqual(scores.map(\.label), [true, false, true])
        XCTAssertEqual(scores.map(\.score), [0.5, -0.001, 2])
    }

    func testScoreFileErrorsNameTheLine() {
        let cases: [(String, String)] = [
            ("1 0.5\n0 nan\n", "s.txt:2: score \"nan\" is not a finite number"),
            ("1 0.5\n0 inf\n", "s.txt:2: score \"inf\" is not a finite number"),
            ("1 0.5\n\n0 abc\n", "s.txt:3: score \"abc\" is not a number"),
            ("1 0x10\n", "s.txt:1: score \"0x10\" is not a number"),
            ("1 -0X1p-2\n", "s.txt:1: score \"-0X1p-2\" is not a number"),
            ("0.5\n", "s.txt:1: expected `label score` (label 1 = same speaker), got 1 field"),
            ("1 0.5\n2 0.5\n", "s.txt:2: label \"2\" must be 1 (same speaker) or 0 (different speakers)"),
        ]
        for (text, message) in cases {
            XCTAssertThrowsError(try VerificationScoreFile.parse(text, path: "s.txt"), text) { error in
                XCTAssertEqual("\(error)", message)
            }
        }
    }

    func testWrittenScoresReadBackExactly() throws {
        let trials = [VerificationTrial(isTarget: true, enrol: "a.wav", test: "b.wav"),
                      VerificationTrial(isTarget: false, enrol: "a.wav", test: "c.wav")]
        let values = [-0.8741142358809142, 1.0e-17]
        let text = VerificationScoreFile.text(trials: trials, scores: values)
        XCTAssertTrue(text.hasPrefix("#"))
        let read = try VerificationScoreFile.parse(text, path: "out.txt")
        XCTAssertEqual(read.map(\.label), [true, false])
        XCTAssertEqual(read.map(\.score), values)
        XCTAssertEqual(try VerificationTrialList.parse(
            text.split(separator: "\n").dropFirst().map { $0.split(separator: " ") }.map { "\($0[0]) \($0[2]) \($0[3])" }
                .joined(separator: "\n"), path: "x"), trials)
    }
}
