import IPETFormats
import IPETTestSupport
import XCTest

/// The plot font and text drawing: every printable ASCII character has a glyph of its own, anything else shows as
/// the placeholder box, and drawn text lands where `PNGImage.draw` says, across or upward, and survives encoding.
final class BitmapFontTests: XCTestCase {
    private let printable = (0x20...0x7E).map { Character(Unicode.Scalar(UInt8($0))) }

    func testPrintableASCIIHasDistinctGlyphsWithinFiveByEight() {
        let glyphs = printable.map(BitmapFont.glyph)
        XCTAssertEqual(Set(glyphs).count, printable.count, "two characters share a glyph")
        XCTAssertFalse(glyphs.contains(BitmapFont.placeholder))
        XCTAssertEqual(BitmapFont.glyph(" "), 0)
        for (c, g) in zip(printable, glyphs) {
            XCTAssertEqual(g >> 40, 0, "\(c): more than 5×8 bits")
            if c != " " { XCTAssertNotEqual(g, 0, "\(c) is blank") }
        }
    }

    func testOtherCharactersAreThePlaceholderAndTheEllipsisIsDrawn() {
        for c: Character in ["é", "日", "😀", "\u{7F}", "\n", "e\u{301}"] {
            XCTAssertEqual(BitmapFont.glyph(c), BitmapFont.placeholder, "\(c.unicodeScalars.map(\.value))")
        }
        XCTAssertNotEqual(BitmapFont.glyph("…"), BitmapFont.placeholder)
        XCTAssertNotEqual(BitmapFont.glyph("…"), BitmapFont.glyph("."))
        XCTAssertEqual(BitmapFont.width(of: ""), 0)
        XCTAssertEqual(BitmapFont.width(of: "ab日"), 17)
    }

    /// "T" is a full top row and a centre column: across, then a quarter turn anticlockwise (reading upward).
    func testDrawingAcrossAndUpward() {
        var image = PNGImage(width: 20, height: 20)
        let ink: (UInt8, UInt8, UInt8) = (0, 0, 0)
        image.draw(text: "T", x: 3, y: 2, color: ink)
        image.draw(text: "T", x: 12, y: 17, color: ink, upward: true)
        var across = Set<[Int]>(), upward = Set<[Int]>()
        for y in 0..<20 {
            for x in 0..<20 where image.pixels[3 * (y * 20 + x)] == 0 {
                if x < 10 { across.insert([x, y]) } else { upward.insert([x, y]) }
            }
        }
        // Across: row 2 from x 3 to 7, then the column x = 5 down to y 8 (no descender).
        XCTAssertEqual(across, Set((3...7).map { [$0, 2] } + (3...8).map { [5, $0] }))
        // Upward: the glyph's top row becomes the column x = 12 from y 17 up to 13; its stem the row y = 15.
        XCTAssertEqual(upward, Set((13...17).map { [12, $0] } + (13...18).map { [$0, 15] }))
    }

    func testScaledTextAndClipping() {
        var image = PNGImage(width: 8, height: 8)
        image.draw(text: "|", x: -2, y: 0, color: (0, 0, 0), scale: 2)   // the bar's column 2 → x 2, 3; y 0…13 clipped at 8
        for y in 0..<8 {
            for x in 0..<8 {
                XCTAssertEqual(image.pixels[3 * (y * 8 + x)] == 0, x == 2 || x == 3, "(\(x), \(y))")
            }
        }
    }

    /// What `encoded()` writes reads back pixel for pixel, also when the data needs several stored deflate blocks,
    /// and the same pixels always give the same bytes.
    func testEncodedTextReadsBack() throws {
        for (w, h) in [(37, 11), (300, 100)] {   // 100 rows of 901 bytes: two blocks
            var image = PNGImage(width: w, height: h, fill: (250, 240, 230))
            image.draw(text: "Az~ 09?", x: 1, y: 2, color: (10, 20, 30))
            image.fill(x: w - 3, y: h - 3, width: 9, height: 9, color: (1, 2, 3))
            let decoded = try StoredPNG(bytes: image.encoded())
            XCTAssertEqual([decoded.width, decoded.height], [w, h])
            XCTAssertEqual(decoded.pixels, image.pixels)
            XCTAssertEqual(image.encoded(), image.encoded())
        }
    }
}
