import IPETFormats
import XCTest

final class JSONParserTests: XCTestCase {
    func testParsesNestedDocumentKeepingMemberOrder() throws {
        let v = try JSONParser.parse(#" {"b": [1, -2, 3.5e2, true, null], "a": {"x": "y\n\u00e9\ud83d\ude00"}} "#)
        XCTAssertEqual(v.object?.map(\.key), ["b", "a"])
        XCTAssertEqual(v["b"], .array([.integer(.nonNegative(1)), .integer(.negative(-2)), .double(350), .bool(true), .null]))
        XCTAssertEqual(v["a"]?["x"]?.string, "y\né😀")
    }

    func testRejectsDuplicateKeysAtAnyDepth() {
        XCTAssertThrowsError(try JSONParser.parse(#"{"a": 1, "a": 2}"#)) { error in
            XCTAssertTrue("\(error)".contains("duplicate key \"a\""), "\(error)")
        }
        XCTAssertThrowsError(try JSONParser.parse(#"{"o": {"k": 1, "k": 1}}"#))
    }

    func testKeepsLargeIntegersExact() throws {
        XCTAssertEqual(try JSONParser.parse("18446744073709551615"), .integer(.nonNegative(UInt64.max)))
        XCTAssertEqual(try JSONParser.parse("-9223372036854775808"), .integer(.negative(Int64.min)))
        // Beyond 64 bits the value survives as a double so that callers can report it.
        XCTAssertEqual(try JSONParser.parse("18446744073709551616"), .double(18446744073709551616))
    }

    func testRejectsMalformedText() {
        for text in ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", "-", "\"\u{01}\"", "\"\\x\"", "tru", "{} x", "{}\0",
                     "\"\\ud800\"", "\"\\udc00\"", "[1 2]", "{\"a\":1,}"] {
            XCTAssertThrowsError(try JSONParser.parse(text), "accepted \(text.debugDescription)")
        }
    }

    func testBoundsNestingDepthInsteadOfOverflowingTheStack() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        XCTAssertThrowsError(try JSONParser.parse(deep)) { error in
            XCTAssertTrue("\(error)".contains("nested deeper"), "\(error)")
        }
        let ok = String(repeating: "[", count: 60) + String(repeating: "]", count: 60)
        XCTAssertNoThrow(try JSONParser.parse(ok))
    }

    func testCompactSerialisationRoundTrips() throws {
        let text = #"{"a":[1,-2,0.5,"q\"\\\n"],"b":{},"c":[],"d":null,"e":false}"#
        let v = try JSONParser.parse(text)
        XCTAssertEqual(v.compactText, text)
        XCTAssertEqual(try JSONParser.parse(v.prettyText), v)
    }
}
