import Foundation
import IPETEngine
import IPETFormats
import IPETTensor
import IPETTestSupport
import XCTest

/// Trial scoring from embeddings against numpy (tools/make_metric_fixtures.py, float64 from the stored float32 /
/// float16 values; checked there against scipy cdist and sklearn cosine_similarity). Tolerance 1e-5 absolute on
/// raw scores (we keep normalised segments in Float32) and 1e-4 on s-norm / AS-norm scores, which divide by
/// cohort standard deviations of ~0.05 (observed differences are ~1e-7 and ~1e-6).
final class SpeakerVerificationScoringTests: XCTestCase {
    override func setUp() { ComputeThreads.configure(2) }

    private static let directory = "verification/embeddings"
    private static let reference: JSONValue = {
        let text = try! String(contentsOfFile: Fixtures.path("\(directory)/expected.json"), encoding: .utf8)
        return try! JSONParser.parse(text)
    }()

    private func embeddings() throws -> [String: [[Float]]] {
        try SpeakerEmbeddingFile.read(path: Fixtures.path("\(Self.directory)/embeddings.safetensors"))
    }

    private func cohort() throws -> SpeakerEmbeddingTable {
        try SpeakerEmbeddingTable(try SpeakerEmbeddingFile.read(path: Fixtures.path("\(Self.directory)/cohort.safetensors")))
    }

    private func trials() throws -> [VerificationTrial] {
        try VerificationTrialList.read(path: Fixtures.path("\(Self.directory)/trials.txt"))
    }

    private func expected(_ field: String) throws -> [Double] {
        try XCTUnwrap(Self.reference["trials"]?.array).map { $0[field]!.double! }
    }

    private func assertClose(_ got: [Double], _ want: [Double], _ tolerance: Double, _ what: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, what, file: file, line: line)
        let worst = zip(got, want).map { abs($0 - $1) }.max() ?? .infinity
        XCTAssertLessThan(worst, tolerance, what, file: file, line: line)
    }

    func testTrialListMatchesTheReferenceOrder() throws {
        let stored = try XCTUnwrap(Self.reference["trials"]?.array)
        let trials = try trials()
        XCTAssertEqual(trials.map(\.enrol), stored.map { $0["enrol"]!.string! })
        XCTAssertEqual(trials.map(\.test), stored.map { $0["test"]!.string! })
        XCTAssertEqual(trials.map { $0.isTarget ? 1 : 0 }, stored.map { $0["label"]!.int! })
    }

    func testCacheShapesAndDTypes() throws {
        let table = try SpeakerEmbeddingTable(try embeddings())
        XCTAssertEqual(table.keys, try XCTUnwrap(Self.reference["keys"]?.array).map { $0.string! })
        XCTAssertEqual(table.dimension, 16)
        XCTAssertEqual(table.segmentCount("id001/a/00001.wav"), 5)
        XCTAssertEqual(table.segmentCount("id001/c/00003.wav"), 1)  // stored as [16]
        XCTAssertEqual(table.segmentCount("id002/c/00003.wav"), 3)  // stored as F16 [3, 16]
    }

    func testIPETRuleMatchesNumpy() throws {
        let scores = try SpeakerTrialScorer(embeddings: try embeddings(), rule: .ipet).scores(try trials())
        assertClose(scores, try expected("ipet"), 1e-5, "IPET rule")
    }

    func testCosineMatchesNumpy() throws {
        let scores = try SpeakerTrialScorer(embeddings: try embeddings(), rule: .cosine).scores(try trials())
        assertClose(scores, try expected("cosine"), 1e-5, "cosine")
    }

    func testSNormMatchesNumpy() throws {
        for rule in SpeakerScoringRule.allCases {
            let scorer = try SpeakerTrialScorer(embeddings: try embeddings(), rule: rule)
            let scores = try scorer.normalizedScores(try trials(), cohort: try cohort(), normalization: .symmetric)
            assertClose(scores, try expected("\(rule.rawValue)_snorm"), 1e-4, "\(rule) s-norm")
        }
    }

    func testAdaptiveSNormMatchesNumpy() throws {
        let topN = try XCTUnwrap(Self.reference["as_norm_top_n"]?.int)
        for rule in SpeakerScoringRule.allCases {
            let scorer = try SpeakerTrialScorer(embeddings: try embeddings(), rule: rule)
            let scores = try scorer.normalizedScores(try trials(), cohort: try cohort(), normalization: .adaptive(topN: topN))
            assertClose(scores, try expected("\(rule.rawValue)_asnorm"), 1e-4, "\(rule) AS-norm")
        }
    }

    func testAdaptiveWithTheWholeCohortIsSNorm() throws {
        let scorer = try SpeakerTrialScorer(embeddings: try embeddings(), rule: .ipet)
        let cohort = try cohort()
        XCTAssertEqual(try scorer.normalizedScores(try trials(), cohort: cohort, normalization: .adaptive(topN: cohort.count)),
                       try scorer.normalizedScores(try trials(), cohort: cohort, normalization: .symmetric))
    }

    func testIPETRuleByHand() throws {
        // Unit vectors e1, e2 against e1: distances 0 and √2, so the score is −√2 / 2; scaling a segment changes nothing.
        let enrol: [[Float]] = [[1, 0, 0], [0, 3, 0]]
        let test: [[Float]] = [[2, 0, 0]]
        XCTAssertEqual(try SpeakerScoringRule.ipet.score(enrol, test), -2.0.squareRoot() / 2, accuracy: 1e-7)
        // Cosine: mean of normalised segments (½, ½, 0) against e1 → 1/√2.
        XCTAssertEqual(try SpeakerScoringRule.cosine.score(enrol, test), 1 / 2.0.squareRoot(), accuracy: 1e-12)
    }

    func testIPETRuleOnLongEmbeddingsUsesEverySIMDTail() throws {
        // 128 + 8 + 3 dimensions: the 16-wide loop, one 8-wide step and a scalar tail.
        let dim = 139
        let a = (0..<dim).map { Float(sin(Double($0))) }, b = (0..<dim).map { Float(cos(Double($0) * 0.7)) }
        func unit(_ v: [Float]) -> [Double] {
            let n = v.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            return v.map { Double($0) / n }
        }
        let distance = zip(unit(a), unit(b)).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
        XCTAssertEqual(try SpeakerScoringRule.ipet.score([a], [b]), -distance, accuracy: 1e-6)
    }

    func testPairScoreEqualsScorer() throws {
        let all = try embeddings()
        let scorer = try SpeakerTrialScorer(embeddings: all, rule: .ipet)
        let trial = try trials()[4]
        XCTAssertEqual(try SpeakerScoringRule.ipet.score(all[trial.enrol]!, all[trial.test]!),
                       try scorer.scores([trial])[0], accuracy: 1e-12)
    }

    func testMissingUtteranceIsNamed() throws {
        let scorer = try SpeakerTrialScorer(embeddings: try embeddings(), rule: .ipet)
        let trials = try trials() + [VerificationTrial(isTarget: false, enrol: "id001/a/00001.wav", test: "id009/x.wav")]
        XCTAssertThrowsError(try scorer.scores(trials)) { error in
            XCTAssertEqual("\(error)", "no embedding for utterance \"id009/x.wav\" (trial 15)")
        }
    }

    func testBadEmbeddingsAreRejected() {
        XCTAssertThrowsError(try SpeakerEmbeddingTable(["a": [[1, 2, 3]], "b": [[1, 2]]], source: "c.safetensors")) { error in
            XCTAssertTrue("\(error)".hasPrefix("c.safetensors: "), "\(error)")
            XCTAssertTrue("\(error)".contains("2-dimensional"), "\(error)")
        }
        XCTAssertThrowsError(try SpeakerEmbeddingTable(["a": []])) { error in
            XCTAssertTrue("\(error)".contains("\"a\" has no segment embeddings"), "\(error)")
        }
        XCTAssertThrowsError(try SpeakerEmbeddingTable(["a": [[1, .nan]]])) { error in
            XCTAssertTrue("\(error)".contains("NaN"), "\(error)")
        }
    }

    func testNormalisationErrors() throws {
        let scorer = try SpeakerTrialScorer(embeddings: try embeddings(), rule: .ipet)
        let cohort = try cohort()
        for topN in [1, cohort.count + 1] {
            XCTAssertThrowsError(try scorer.normalizedScores(try trials(), cohort: cohort, normalization: .adaptive(topN: topN))) { error in
                XCTAssertTrue("\(error)".contains("between 2 and the cohort size 6"), "\(error)")
            }
        }
        let wrongDimension = try SpeakerEmbeddingTable(["x": [[1, 2]], "y": [[2, 1]]])
        XCTAssertThrowsError(try scorer.normalizedScores(try trials(), cohort: wrongDimension, normalization: .symmetric)) { error in
            XCTAssertTrue("\(error)".contains("dimension 2"), "\(error)")
        }
        // Two identical cohort utterances: zero spread.
        let flat = try SpeakerEmbeddingTable(["x": [[Float](repeating: 1, count: 16)], "y": [[Float](repeating: 2, count: 16)]])
        XCTAssertThrowsError(try scorer.normalizedScores(try trials(), cohort: flat, normalization: .symmetric)) { error in
            XCTAssertTrue("\(error)".contains("all equal"), "\(error)")
        }
    }

    func testEmbeddingFileRoundTrip() throws {
        let path = Fixtures.temporaryDirectory().appendingPathComponent("cache.safetensors").path
        let original = try embeddings()
        try SpeakerEmbeddingFile.write(original, to: path, metadata: [("ipet.pack", "p.ipet")])
        let file = try SafeTensorsFile(path: path)
        XCTAssertEqual(file.metadataValue("ipet.pack"), "p.ipet")
        XCTAssertEqual(file.info("id001/c/00003.wav")?.shape, [1, 16])
        XCTAssertEqual(try SpeakerEmbeddingFile.read(path: path), original)
    }

    func testEmbeddingFileRejectsOtherShapes() throws {
        let path = Fixtures.temporaryDirectory().appendingPathComponent("bad.safetensors").path
        var writer = SafeTensorsWriter()
        writer.add(.init(name: "u.wav", shape: [1, 2, 2], floats: [1, 2, 3, 4]))
        try writer.write(to: path)
        XCTAssertThrowsError(try SpeakerEmbeddingFile.read(path: path)) { error in
            XCTAssertTrue("\(error)".contains("tensor \"u.wav\" has shape [1, 2, 2]"), "\(error)")
        }
    }

    func testParallelScoringEqualsPairScores() throws {
        // Enough trials for several threads (chunks of at least 4096); not timed (see the report for release timings).
        var embeddings: [String: [[Float]]] = [:]
        var state: UInt64 = 42
        func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2000) / 1000 - 1
        }
        for u in 0..<50 { embeddings["u\(u)"] = (0..<5).map { _ in (0..<24).map { _ in next() } } }
        let trials = (0..<10_000).map { VerificationTrial(isTarget: $0 % 2 == 0, enrol: "u\($0 % 50)", test: "u\(($0 * 7 + 1) % 50)") }
        for rule in SpeakerScoringRule.allCases {
            let scores = try SpeakerTrialScorer(embeddings: embeddings, rule: rule).scores(trials)
            XCTAssertEqual(scores.count, trials.count)
            for t in [0, 4095, 4096, 9999] {
                XCTAssertEqual(scores[t], try rule.score(embeddings[trials[t].enrol]!, embeddings[trials[t].test]!), accuracy: 1e-12)
            }
        }
    }
}
