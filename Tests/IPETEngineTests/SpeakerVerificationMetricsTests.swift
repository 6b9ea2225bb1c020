import Foundation
import IPETEngine
import IPETFormats
import IPETTestSupport
import XCTest

/// EER and minDCF against the Python reference (tools/make_metric_fixtures.py: scikit-learn roc_curve + brentq,
/// checked there against a closed-form crossing and a brute-force threshold sweep). Tolerance: 1e-6 absolute
/// (the implementations agree to ~1e-14).
final class SpeakerVerificationMetricsTests: XCTestCase {
    private static let expected: JSONValue = {
        let text = try! String(contentsOfFile: Fixtures.path("verification/expected.json"), encoding: .utf8)
        return try! JSONParser.parse(text)["score_sets"]!
    }()

    private func scores(_ set: String) throws -> [(label: Bool, score: Double)] {
        try VerificationScoreFile.read(path: Fixtures.path("verification/\(set).txt"))
    }

    private func checkAgainstReference(_ set: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let reference = try XCTUnwrap(Self.expected[set], set)
        let metrics = try VerificationMetrics(try scores(set))
        XCTAssertEqual(metrics.trials, reference["trials"]?.int, set, file: file, line: line)
        XCTAssertEqual(metrics.targets, reference["targets"]?.int, set, file: file, line: line)
        XCTAssertEqual(metrics.nonTargets, reference["nontargets"]?.int, set, file: file, line: line)
        XCTAssertEqual(metrics.equalErrorRate, reference["eer"]!.double!, accuracy: 1e-6, "\(set) EER", file: file, line: line)
        XCTAssertEqual(metrics.minDCF01, reference["min_dcf_p01"]!.double!, accuracy: 1e-6, "\(set) minDCF 0.01", file: file, line: line)
        XCTAssertEqual(metrics.minDCF05, reference["min_dcf_p05"]!.double!, accuracy: 1e-6, "\(set) minDCF 0.05", file: file, line: line)
    }

    func testGaussian10kMatchesReference() throws { try checkAgainstReference("gaussian_10k") }

    func testManyTiesMatchReference() throws { try checkAgainstReference("ties_10k") }

    func testAllEqualScoresMatchReference() throws { try checkAgainstReference("all_equal") }

    func testPerfectlySeparatedMatchesReference() throws { try checkAgainstReference("separated") }

    func testTinySetMatchesReference() throws { try checkAgainstReference("tiny") }

    func testInvertedSetMatchesReference() throws { try checkAgainstReference("inverted") }

    func testVox1OSizedSetMatchesReference() throws { try checkAgainstReference("vox1o_size") }

    func testEveryReferenceSetIsCovered() throws {
        let covered: Set = ["gaussian_10k", "ties_10k", "all_equal", "separated", "tiny", "inverted", "vox1o_size", "single_class"]
        XCTAssertEqual(Set(try XCTUnwrap(Self.expected.object).map(\.key)), covered)
    }

    func testTinySetByHand() throws {
        // Targets 0.9, 0.6, 0.1; non-targets 0.6, 0.6, 0.2. Points (P_fa, P_miss): (0, 1), (0, 2/3), (2/3, 1/3),
        // (1, 1/3), (1, 0). The crossing lies on (0, 2/3)–(2/3, 1/3): α = (2/3) / (2/3 + 1/3), EER = α · 2/3 = 4/9.
        // minDCF: the best point is (0, 2/3), so p · 2/3 / p = 2/3 for both p.
        let trials: [(label: Bool, score: Double)] = [(true, 0.9), (true, 0.6), (false, 0.6), (false, 0.6), (false, 0.2), (true, 0.1)]
        let curve = try DetectionErrorCurve(trials)
        XCTAssertEqual(curve.thresholds, [.infinity, 0.9, 0.6, 0.2, 0.1])
        let (third, twoThirds): (Double, Double) = (1.0 / 3, 2.0 / 3)
        XCTAssertEqual(curve.falseAlarmRates, [0, 0, twoThirds, 1, 1])
        XCTAssertEqual(curve.missRates, [1, 1 - third, 1 - twoThirds, 1 - twoThirds, 0])
        XCTAssertEqual(curve.equalErrorRate, 4.0 / 9, accuracy: 1e-15)
        XCTAssertEqual(curve.minimumDetectionCost(pTarget: 0.01), 2.0 / 3, accuracy: 1e-15)
        XCTAssertEqual(curve.minimumDetectionCost(pTarget: 0.05), 2.0 / 3, accuracy: 1e-15)
    }

    func testTiedScoresAreOneThresholdWhateverTheirOrder() throws {
        let trials = try scores("ties_10k")
        let curve = try DetectionErrorCurve(trials)
        XCTAssertEqual(Set(curve.thresholds).count, curve.thresholds.count)
        XCTAssertEqual(curve.thresholds.count - 1, Self.expected["ties_10k"]?["distinct_scores"]?.int)
        // Reordering trials (and so the order of tied target / non-target scores) changes nothing, not even a bit.
        XCTAssertEqual(try VerificationMetrics(trials.reversed()), try VerificationMetrics(trials))
        XCTAssertEqual(try VerificationMetrics(trials.sorted { $0.label && !$1.label }), try VerificationMetrics(trials))
    }

    func testAllEqualScoresGiveHalfAndOne() throws {
        let metrics = try VerificationMetrics(try scores("all_equal"))
        XCTAssertEqual(metrics.equalErrorRate, 0.5)
        XCTAssertEqual(metrics.minDCF01, 1)
        XCTAssertEqual(metrics.minDCF05, 1)
    }

    func testSeparatedScoresGiveZero() throws {
        let metrics = try VerificationMetrics(try scores("separated"))
        XCTAssertEqual(metrics.equalErrorRate, 0)
        XCTAssertEqual(metrics.minDCF01, 0)
        XCTAssertEqual(metrics.minDCF05, 0)
    }

    func testMinDCFIsNormalisedByTheBetterTrivialSystem() throws {
        // Reject-all costs C_miss·p; with C_miss = 10 and p = 0.01 the normaliser is min(0.1, 0.99) = 0.1.
        let curve = try DetectionErrorCurve(try scores("gaussian_10k"))
        var best = Double.infinity
        for (miss, fa) in zip(curve.missRates, curve.falseAlarmRates) { best = min(best, 10 * miss * 0.01 + fa * 0.99) }
        XCTAssertEqual(curve.minimumDetectionCost(pTarget: 0.01, costMiss: 10), best / 0.1, accuracy: 1e-15)
        XCTAssertLessThanOrEqual(curve.minimumDetectionCost(pTarget: 0.01), 1)
    }

    func testSingleClassIsAClearError() throws {
        let reference = try XCTUnwrap(Self.expected["single_class"]?["error"]?.string)
        XCTAssertThrowsError(try VerificationMetrics(try scores("single_class"))) { error in
            XCTAssertTrue("\(error)".contains(reference), "\(error)")
            XCTAssertTrue("\(error)".contains("1 target, 0 non-target"), "\(error)")
        }
        XCTAssertThrowsError(try VerificationMetrics([(false, 0.1), (false, 0.2), (false, 0.3)])) { error in
            XCTAssertTrue("\(error)".contains("needs both target and non-target trials"), "\(error)")
        }
    }

    func testNoTrialsIsAnError() {
        XCTAssertThrowsError(try VerificationMetrics([])) { error in
            XCTAssertTrue("\(error)".contains("no trials"), "\(error)")
        }
    }

    func testNaNScoreIsAnErrorNamingTheTrial() {
        XCTAssertThrowsError(try VerificationMetrics([(true, 0.5), (false, .nan), (false, 0.1)])) { error in
            XCTAssertTrue("\(error)".contains("trial 2"), "\(error)")
            XCTAssertTrue("\(error)".contains("finite"), "\(error)")
        }
        XCTAssertThrowsError(try VerificationMetrics([(true, .infinity), (false, 0.1)]))
    }
}
