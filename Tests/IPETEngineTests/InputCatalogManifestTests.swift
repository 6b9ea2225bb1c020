import Foundation
import IPETEngine
import IPETTestSupport
import XCTest

/// Manifests read by `InputCatalog.manifest` (README "Fuzzing", ManifestFuzz): what a row may and may not say.
final class InputCatalogManifestTests: XCTestCase {
    private func manifest(_ name: String, _ text: String) throws -> [InputItem] {
        let url = Fixtures.temporaryDirectory("manifest").appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return try InputCatalog.manifest(url.path)
    }

    /// Found by review while writing ManifestFuzz: a JSON Lines row with `"path": ""` was accepted and named the
    /// manifest's own folder (a CSV row with an empty path was already refused).
    func testEmptyPathIsRefusedInEveryFormat() throws {
        XCTAssertThrowsError(try manifest("m.jsonl", #"{"path":"a.wav"}"# + "\n" + #"{"path":""}"#)) {
            XCTAssertTrue("\($0)".contains("line 2: empty path"), "\($0)")
        }
        XCTAssertThrowsError(try manifest("m.csv", "path,label\n,dog\n")) { XCTAssertTrue("\($0)".contains("line 2: empty path"), "\($0)") }
        XCTAssertEqual(try manifest("m.jsonl", #"{"path":"a.wav","label":"dog;bark"}"#).first?.labels, ["dog", "bark"])
    }

    /// A manifest saved by a spreadsheet program starts with a UTF-8 byte-order mark; it was read as part of the
    /// first column's name ("the header row has no path column") or as JSON ("unexpected character at byte 0").
    func testAByteOrderMarkIsNotPartOfTheText() throws {
        let bom = "\u{FEFF}"
        XCTAssertEqual(try manifest("m.csv", bom + "path,label\na.wav,dog\n").map(\.labels), [["dog"]])
        XCTAssertEqual(try manifest("m.jsonl", bom + #"{"path":"a.wav","label":"cat"}"# + "\n").map(\.labels), [["cat"]])
        XCTAssertEqual(try manifest("m.tsv", bom + "file\tclass\na.wav\tbird\n").map(\.labels), [["bird"]])
    }
}
