import Foundation
import IPETFormats
import IPETTestSupport
import XCTest

/// The library example (`Examples/ClassifyFile`, a package of its own that depends on this one) builds and gives
/// exactly what `ipet predict` gives for the same file and pack.
final class LibraryExampleTests: XCTestCase {
    private var examplePackage: URL { Fixtures.root.appendingPathComponent("Examples/ClassifyFile") }

    /// The example's binary, (re)built here: an up-to-date build is a no-op (`tools/test` builds it first), and a stale
    /// one would compare yesterday's library with today's `ipet`.
    private func exampleBinary() throws -> String {
        let build = Process()
        build.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        build.arguments = ["swift", "build", "--package-path", examplePackage.path]
        build.standardOutput = FileHandle.nullDevice
        try build.run()
        build.waitUntilExit()
        XCTAssertEqual(build.terminationStatus, 0, "swift build --package-path Examples/ClassifyFile failed")
        return examplePackage.appendingPathComponent(".build/debug/classify-file").path
    }

    func testTheExampleClassifiesLikeIpetPredict() throws {
        let binary = try exampleBinary()
        let backbone = Fixtures.path("demo/backbone"), pack = Fixtures.path("demo/packs/keywords.ipet")
        for clip in ["down", "yes", "stop"].map({ Fixtures.path("demo/clips/keywords/\($0).flac") }) {
            let example = Process()
            example.executableURL = URL(fileURLWithPath: binary)
            example.arguments = [backbone, pack, clip, "3"]
            let out = Pipe()
            example.standardOutput = out
            try example.run()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            example.waitUntilExit()
            XCTAssertEqual(example.terminationStatus, 0, text)
            let mine = text.split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }
            let predicted = try CommandRunner.run(["predict", "--backbone", backbone, "--pack", pack, "--top-k", "3", "--quiet", clip])
            let top = try XCTUnwrap(JSONParser.parse(predicted.stdout.trimmingCharacters(in: .newlines))["top"]?.array)
            XCTAssertEqual(mine.count, top.count, text)
            for (line, entry) in zip(mine, top) {
                XCTAssertEqual(line[0], entry["label"]?.string, clip)
                XCTAssertEqual(Double(line[1]), entry["score"]?.double, "same number, to the printed digit: \(clip)")
            }
        }
    }
}
