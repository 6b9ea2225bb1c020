import Foundation
import IPETFormats
import IPETTestSupport
import XCTest

/// What `ipet eval` writes besides its figures: confusion files named per pack (PACK), the labelled confusion PNG,
/// the confusion matrix in the text report (or the note that it is left out), and which macro F1 it computed.
final class EvalOutputTests: XCTestCase {
    private let backbone = Fixtures.path("demo/backbone")
    private let keywords = Fixtures.path("demo/packs/keywords.ipet")
    private let sounds = Fixtures.path("demo/packs/sounds.ipet")
    /// 10 keyword clips and 10 sound clips, labelled.
    private let demoClips = Fixtures.path("demo/clips-labels.csv")
    /// 150 keyword clips, 15 a class.
    private let heldOut = Fixtures.path("demo/heldout-keywords.csv")

    private func eval(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> CommandRunner.Result {
        let result = try CommandRunner.run(["eval", "--backbone", backbone, "--quiet"] + args)
        XCTAssertEqual(result.status, 0, result.stderr, file: file, line: line)
        return result
    }

    private func listing(_ dir: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
    }

    private func header(_ csv: URL) throws -> String {
        String(try String(contentsOf: csv, encoding: .utf8).split(separator: "\n").first ?? "")
    }

    func testPACKIsReplacedWithOnePackAndWithSeveral() throws {
        let dir = Fixtures.temporaryDirectory("eval-outputs")
        let one = dir.appendingPathComponent("one"), two = dir.appendingPathComponent("two")
        for d in [one, two] { try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true) }
        _ = try eval(["--pack", keywords, "--manifest", demoClips,
                      "--confusion-csv", one.path + "/PACK.csv", "--confusion-png", one.path + "/cm-PACK.png"])
        XCTAssertEqual(try listing(one), ["cm-keywords.png", "keywords.csv"])
        XCTAssertEqual(try header(one.appendingPathComponent("keywords.csv")), "true\\predicted,yes,no,up,down,left,right,on,off,stop,go")
        // One pack and no PACK: the path as given.
        _ = try eval(["--pack", keywords, "--manifest", demoClips, "--confusion-csv", one.path + "/plain.csv"])
        XCTAssertEqual(try listing(one), ["cm-keywords.png", "keywords.csv", "plain.csv"])
        // Two packs: PACK replaced as with one; no PACK: "-NAME" before the extension.
        _ = try eval(["--pack", keywords, "--pack", sounds, "--manifest", demoClips,
                      "--confusion-csv", two.path + "/PACK.csv", "--confusion-png", two.path + "/cm.png"])
        XCTAssertEqual(try listing(two), ["cm-keywords.png", "cm-sounds.png", "keywords.csv", "sounds.csv"])
        XCTAssertTrue(try header(two.appendingPathComponent("sounds.csv")).contains(",tone,"))
        XCTAssertNotEqual(try Data(contentsOf: two.appendingPathComponent("cm-keywords.png")),
                          try Data(contentsOf: two.appendingPathComponent("cm-sounds.png")))
    }

    /// The PNG, pixel for pixel where it matters: its size from the layout (margins 8 px, gaps 4 px, 32-px cells up
    /// to 20 classes, text 6 px a character and 8 px a line, the title at twice that), the title, every row's and
    /// column's label, each cell's colour, and each non-zero count written in its cell; the same run again gives
    /// the same bytes.
    func testConfusionPNGHasTitleLabelledAxesAndCounts() throws {
        let dir = Fixtures.temporaryDirectory("eval-outputs")
        let result = try eval(["--pack", keywords, "--manifest", heldOut, "--json", "--confusion-png", dir.path + "/PACK.png"])
        let report = try JSONParser.parse(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        let labels = try XCTUnwrap(report["labels"]?.array).map { $0.string ?? "?" }
        let confusion = try XCTUnwrap(report["confusion"]?.array).map { $0.array?.map { $0.int ?? -1 } ?? [] }
        let accuracy = try XCTUnwrap(report["accuracy"]?.double), files = try XCTUnwrap(report["files"]?.int)
        let bytes = Array(try Data(contentsOf: dir.appendingPathComponent("keywords.png")))
        let image = try StoredPNG(bytes: bytes)

        let n = labels.count, cell = 32, grid = n * cell, margin = 8, gap = 4, line = BitmapFont.glyphHeight
        let labelWidth = labels.map(BitmapFont.width(of:)).max() ?? 0
        let title = "keywords: accuracy " + String(format: "%.2f", 100 * accuracy) + " % (\(files) files)"
        let axes = "rows: true class, columns: predicted class"
        XCTAssertEqual(image.width, max(margin + labelWidth + gap + grid,
                                        margin + max(2 * BitmapFont.width(of: title), BitmapFont.width(of: axes))) + margin)
        XCTAssertEqual(image.height, margin + 2 * line + gap + line + gap + labelWidth + gap + grid + margin)
        let gridX = image.width - margin - grid, gridY = image.height - margin - grid
        let ink: [UInt8] = [20, 20, 20], white: [UInt8] = [255, 255, 255]

        assertText(title, in: image, x: margin, y: margin, scale: 2, color: ink, on: white)
        assertText(axes, in: image, x: margin, y: margin + 2 * line + gap, color: ink, on: white)
        for (i, label) in labels.enumerated() {
            assertText(label, in: image, x: gridX - gap - BitmapFont.width(of: label), y: gridY + i * cell + (cell - line) / 2, color: ink, on: white)
            assertText(label, in: image, x: gridX + i * cell + (cell - line) / 2, y: gridY - gap - 1, upward: true, color: ink, on: white)
        }
        for (i, row) in confusion.enumerated() {
            let total = Double(max(1, row.reduce(0, +)))
            for (j, count) in row.enumerated() {
                let f = Double(count) / total
                let fill = [UInt8(255 - 200 * f), UInt8(255 - 160 * f), UInt8(255 - 60 * f)]
                let x = gridX + j * cell, y = gridY + i * cell
                if count == 0 {
                    XCTAssertTrue((y..<(y + cell)).allSatisfy { yy in (x..<(x + cell)).allSatisfy { image.pixel(x: $0, y: yy) == fill } },
                                  "cell \(i), \(j) (0) is not flat")
                } else {
                    XCTAssertEqual(image.pixel(x: x, y: y), fill, "cell \(i), \(j)")
                    let text = String(count), w = BitmapFont.width(of: text)
                    assertText(text, in: image, x: x + (cell - w) / 2, y: y + (cell - line) / 2, color: f > 0.5 ? white : ink, on: fill)
                }
            }
        }
        XCTAssertGreaterThan(confusion.joined().filter { $0 > 0 }.count, n - 1, "the diagonal at least has counts")

        let again = try eval(["--pack", keywords, "--manifest", heldOut, "--confusion-png", dir.path + "/again.png"])
        XCTAssertEqual(Array(try Data(contentsOf: dir.appendingPathComponent("again.png"))), bytes, "same input, same bytes")

        // The text report of that second run has the same matrix: a line per class, "N label count…".
        let lines = again.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        XCTAssertTrue(again.stdout.contains("  confusion matrix: rows true class, columns predicted class (numbered as the rows)\n"), again.stdout)
        XCTAssertTrue(lines.contains((1...n).map(String.init)), again.stdout)
        for (i, label) in labels.enumerated() {
            XCTAssertTrue(lines.contains(["\(i + 1)", label] + confusion[i].map(String.init)), "row \(label)\n" + again.stdout)
        }
        XCTAssertTrue(again.stdout.contains("  macro F1: mean F1 over all 10 classes of the pack\n"), again.stdout)
    }

    /// Every pixel of `text` as `PNGImage.draw` places it is `color`, every other pixel of its box `background`.
    private func assertText(_ text: String, in image: StoredPNG, x: Int, y: Int, scale: Int = 1, upward: Bool = false,
                            color: [UInt8], on background: [UInt8], file: StaticString = #filePath, line: UInt = #line) {
        let along = BitmapFont.width(of: text) * scale, across = BitmapFont.glyphHeight * scale
        let box = upward ? (x: x, y: y - along + 1, w: across, h: along) : (x: x, y: y, w: along, h: across)
        var reference = PNGImage(width: box.w, height: box.h)
        reference.draw(text: text, x: x - box.x, y: y - box.y, color: (0, 0, 0), scale: scale, upward: upward)
        var wrong = 0
        for yy in 0..<box.h {
            for xx in 0..<box.w {
                let expected = reference.pixels[3 * (yy * box.w + xx)] == 0 ? color : background
                if image.pixel(x: box.x + xx, y: box.y + yy) != expected { wrong += 1 }
            }
        }
        XCTAssertEqual(wrong, 0, "\"\(text)\" at (\(x), \(y))\(upward ? " upward" : ""): \(wrong) pixels differ", file: file, line: line)
    }

    /// A copy of the keywords pack with 20 more classes (copies of its head's rows, biased never to win): 30 classes,
    /// of which the demo clips have 10.
    private func widePack(in dir: URL) throws -> String {
        let source = try SafeTensorsFile(path: keywords)
        var metadata: [(key: String, value: String)] = []
        let extra = (1...20).map { String(format: "extra-%02d", $0) }
        for (key, value) in source.metadata {
            guard key == "ipet.head", case var .object(fields) = try JSONParser.parse(value) else {
                metadata.append((key, value))
                continue
            }
            let labels = fields.first { $0.key == "labels" }?.value.array ?? []
            fields.removeAll { $0.key == "labels" }
            fields.append(("labels", .array(labels + extra.map(JSONValue.string))))
            metadata.append((key, JSONValue.object(fields).compactText))
        }
        var writer = SafeTensorsWriter(metadata: metadata, recordsContentDigest: true)
        for info in source.tensors {
            if info.name == "head.linear.weight" {
                let w = try source.floats(info.name), rows = info.shape[0], columns = info.shape[1]
                let copies = (0..<extra.count).flatMap { k in w[((k % rows) * columns)..<((k % rows + 1) * columns)] }
                writer.add(.init(name: info.name, shape: [rows + extra.count, columns], floats: w + copies, as: info.dtype))
            } else if info.name == "head.linear.bias" {
                let b = try source.floats(info.name)
                writer.add(.init(name: info.name, shape: [b.count + extra.count], floats: b + Array(repeating: -100, count: extra.count), as: info.dtype))
            } else {
                writer.add(.init(name: info.name, dtype: info.dtype, shape: info.shape, data: Array(source.rawBytes(info))))
            }
        }
        let path = dir.appendingPathComponent("wide.ipet").path
        try writer.write(to: path)
        return path
    }

    /// Above 20 classes the report leaves the matrix out and says where to get it; macro F1 either way, and the
    /// JSON says which.
    func testWideTaskLeavesTheMatrixOutAndMacroF1BothWays() throws {
        let dir = Fixtures.temporaryDirectory("eval-outputs")
        let pack = try widePack(in: dir)
        let text = try eval(["--pack", pack, "--manifest", demoClips]).stdout
        XCTAssertTrue(text.contains("  confusion matrix left out: 30 classes, more than the 20 this report prints; "
                                    + "--confusion-csv FILE writes it (--confusion-png FILE draws it)\n"), text)
        XCTAssertFalse(text.contains("rows true class"), text)
        XCTAssertTrue(text.contains("  macro F1: mean F1 over all 30 classes of the pack; the 20 without files here count as 0 "
                                    + "(--macro-f1 present leaves them out)\n"), text)
        let present = try eval(["--pack", pack, "--manifest", demoClips, "--macro-f1", "present"]).stdout
        XCTAssertTrue(present.contains("  macro F1: mean F1 over the 10 classes with files here (--macro-f1 present); 20 of the pack's 30 have none\n"),
                      present)

        for (option, classes) in [("all", 30), ("present", 10)] {
            let json = try eval(["--pack", pack, "--manifest", demoClips, "--json", "--macro-f1", option]).stdout
            let report = try JSONParser.parse(json.trimmingCharacters(in: .whitespacesAndNewlines))
            XCTAssertEqual(report["macro_f1_over"]?.string, option)
            let perClass = try XCTUnwrap(report["per_class"]?.array)
            XCTAssertEqual(perClass.count, 30)
            let f1 = perClass.filter { option == "all" || ($0["support"]?.int ?? 0) > 0 }.map { $0["f1"]?.double ?? .nan }
            XCTAssertEqual(f1.count, classes)
            XCTAssertEqual(try XCTUnwrap(report["macro_f1"]?.double), f1.reduce(0, +) / Double(classes), accuracy: 1e-12, option)
        }
        let bad = try CommandRunner.run(["eval", "--backbone", backbone, "--pack", pack, "--manifest", demoClips, "--macro-f1", "some"])
        XCTAssertNotEqual(bad.status, 0)
    }
}
