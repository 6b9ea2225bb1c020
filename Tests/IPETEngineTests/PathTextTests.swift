import Foundation
import IPETEngine
import IPETTestSupport
import XCTest

/// Record spellings of file names (`PathText`): every byte string has exactly one spelling and reads back to itself.
final class PathTextTests: XCTestCase {
    func testEscapeRoundTripsAnyBytes() {
        let samples: [[UInt8]] = [[], Array("clips/a.wav".utf8), [0x66, 0xFF, 0x5C, 0x00, 0x1F, 0xC3, 0xA9, 0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80]]
        for bytes in samples {
            XCTAssertEqual(PathText.unescape(PathText.escape(bytes)), bytes, "\(bytes)")
        }
        XCTAssertEqual(PathText.escape([0x61, 0xFF, 0x5C]), #"a\xff\\"#)
    }

    /// ManifestFuzz finding (minimised input committed): `\x1f` decoded to a byte `escape` writes as it is, so the
    /// same file had two record names. Only the spelling `escape` writes is read now.
    func testOnlyTheCanonicalSpellingIsRead() throws {
        let found = String(decoding: try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("fuzz-regressions/manifest/unescape-non-canonical.txt"))), as: UTF8.self)
        XCTAssertEqual(found, #"\x1f"#)
        for text in [found, #"\x41"#, #"\xFF"#, #"\x+f"#, #"\xc3\xa9"#, #"\"#, #"\q"#] {
            XCTAssertNil(PathText.unescape(text), text)
        }
        XCTAssertEqual(PathText.unescape(#"\xff\\é"#), [0xFF, 0x5C, 0xC3, 0xA9])
    }
}
