import IPETEngine
import XCTest

/// Macro F1 over all of a task's classes and over the classes present in the data, on a case worked by hand.
final class ClassificationMetricsMacroF1Tests: XCTestCase {
    /// Five classes; the six inputs are labelled a, a, a, b, b, c and predicted a, a, b, b, d, c. Class d is only
    /// predicted, class e neither labelled nor predicted.
    ///
    ///     a: precision 2/2, recall 2/3 → F1 0.8      b: 1/2, 1/2 → 0.5      c: 1/1, 1/1 → 1
    ///     d: precision 0/1, no true input → 0       e: nothing → 0
    ///
    /// all: (0.8 + 0.5 + 1 + 0 + 0) / 5 = 0.46; present (a, b, c): 2.3 / 3 = 0.7667, scikit-learn's
    /// `f1_score(y_true, y_pred, labels=["a", "b", "c"], average="macro")`.
    private func metrics(_ average: ClassificationMetrics.MacroAverage? = nil) -> ClassificationMetrics {
        let truth = [0, 0, 0, 1, 1, 2], predicted = [0, 0, 1, 1, 3, 2]
        let scores: [[Float]] = predicted.map { p in (0..<5).map { $0 == p ? 0.9 : 0.025 } }
        let labels = ["a", "b", "c", "d", "e"], truthSets = truth.map { [$0] }
        guard let average else { return ClassificationMetrics(labels: labels, truth: truthSets, scores: scores, multiLabel: false) }
        return ClassificationMetrics(labels: labels, truth: truthSets, scores: scores, multiLabel: false, macroAverage: average)
    }

    func testPerClassFiguresOfTheWorkedCase() {
        let m = metrics()
        assertClose(m.perClass.map(\.f1), [0.8, 0.5, 1, 0, 0])
        XCTAssertEqual(m.perClass.map(\.support), [3, 2, 1, 0, 0])
        XCTAssertEqual(m.presentClassCount, 3)
        XCTAssertEqual(m.accuracy, 4.0 / 6.0, accuracy: 1e-12)
    }

    func testAllClassesIsTheDefaultAndCountsAbsentClassesAsZero() {
        let m = metrics()
        XCTAssertEqual(m.macroAverage, .all)
        XCTAssertEqual(m.macroF1, 0.46, accuracy: 1e-12)
        XCTAssertEqual(m.macroF1(over: .all), 0.46, accuracy: 1e-12)
        XCTAssertEqual(m.macroF1(over: .present), 2.3 / 3, accuracy: 1e-12)
    }

    func testPresentClassesLeaveOutClassesNoInputIsLabelledWith() {
        let m = metrics(.present)
        XCTAssertEqual(m.macroAverage, .present)
        XCTAssertEqual(m.macroF1, 2.3 / 3, accuracy: 1e-12)
        XCTAssertEqual(metrics(.all).macroF1, 0.46, accuracy: 1e-12)
    }

    /// With every class in the data the two agree.
    func testBothAgreeWhenEveryClassIsPresent() {
        let m = ClassificationMetrics(labels: ["x", "y"], truth: [[0], [1], [1]], scores: [[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]],
                                      multiLabel: false)
        XCTAssertEqual(m.macroF1(over: .all), m.macroF1(over: .present), accuracy: 1e-12)
        XCTAssertEqual(m.macroF1, (2.0 / 3.0 + 2.0 / 3.0) / 2, accuracy: 1e-12)   // x: P 1/2, R 1; y: P 1, R 1/2
    }
}

private func assertClose(_ a: [Double], _ b: [Double], accuracy: Double = 1e-12, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, file: file, line: line)
    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: accuracy, "\(a) vs \(b)", file: file, line: line) }
}
