import IPETEngine
import XCTest

/// Label lists in one field (`LabelList`): every list has one spelling and reads back to the same labels.
final class LabelListTests: XCTestCase {
    private func scalars(_ labels: [String]) -> [[Unicode.Scalar]] { labels.map { Array($0.unicodeScalars) } }

    func testSeparatorsInsideLabelsRoundTrip() {
        let labels = ["dog", "a;b", "x:1", #"back\slash"#, "é"]
        XCTAssertEqual(LabelList.join(labels), #"dog;a\;b;x\:1;back\\slash;é"#)
        XCTAssertEqual(LabelList.split(LabelList.join(labels)), labels)
        XCTAssertEqual(LabelList.split(" cat ; ;bird "), ["cat", "bird"])
    }

    /// Found by review, confirmed with ManifestFuzz's round-trip property: `a; ́b` splits into "a" and "́b" (the
    /// trimmed space leaves a label starting with U+0301); joined again, `;` and U+0301 formed one Character and the
    /// two labels read back as one.
    func testLabelStartingWithACombiningMarkRoundTrips() {
        let labels = LabelList.split("a; \u{301}b")
        XCTAssertEqual(scalars(labels), scalars(["a", "\u{301}b"]))
        XCTAssertEqual(scalars(LabelList.split(LabelList.join(labels))), scalars(labels))
        XCTAssertEqual(scalars(LabelList.split(#"x\"# + "\u{301};y")), scalars(["x\u{301}", "y"]))
    }
}
