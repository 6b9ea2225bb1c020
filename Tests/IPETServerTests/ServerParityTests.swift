import AsyncHTTPClient
import Foundation
import IPETFormats
import IPETTestSupport
import XCTest

/// The server gives the numbers the command line gives, on the same files and packs: classify equals
/// `ipet predict` (averaged and per window) and embed equals `ipet embed`, within 1e-5, with requests sent
/// concurrently so that they are batched together.
final class ServerParityTests: XCTestCase {
    /// `ipet predict` JSON records keyed by "file-name pack [start]".
    private func predictRecords(_ args: [String]) throws -> [String: [String: Any]] {
        let run = try CommandRunner.run(["predict", "--backbone", DemoServer.backbone, "--pack", DemoServer.keywords,
                                         "--pack", DemoServer.sounds, "--logits", "--top-k", "100", "--quiet"] + args + DemoServer.clips,
                                        timeout: 120)
        XCTAssertEqual(run.status, 0, run.stderr)
        var records: [String: [String: Any]] = [:]
        for line in run.stdout.split(separator: "\n") {
            let record = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let file = URL(fileURLWithPath: record["file"] as! String).lastPathComponent
            let start = (record["start"] as? Double).map { String(format: " %.3f", $0) } ?? ""
            records["\(file) \(record["pack"] as! String)\(start)"] = record
        }
        return records
    }

    private func assertSame(_ served: [String: Any], _ reference: [String: Any]?, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        guard let reference else { return XCTFail("\(what): no ipet predict record", file: file, line: line) }
        let a = served["logits"] as? [Double] ?? [], b = reference["logits"] as? [Double] ?? []
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        XCTAssertLessThanOrEqual(maxAbsDifference(a.map(Float.init), b.map(Float.init)), 1e-5, "\(what) logits", file: file, line: line)
        func scores(_ r: [String: Any]) -> [String: Double] {
            Dictionary(uniqueKeysWithValues: (r["top"] as? [[String: Any]] ?? []).map { ($0["label"] as! String, $0["score"] as! Double) })
        }
        let sa = scores(served), sb = scores(reference)
        XCTAssertEqual(Set(sa.keys), Set(sb.keys), what, file: file, line: line)
        for (label, s) in sa { XCTAssertEqual(s, sb[label] ?? .nan, accuracy: 1e-5, "\(what) \(label)", file: file, line: line) }
    }

    func testClassifyEqualsPredictAveragedAndPerWindow() async throws {
        let averaged = try predictRecords([])
        let windowed = try predictRecords(["--window", "0.5", "--hop", "0.25", "--per-window"])
        try await DemoServer.with(["--pack", DemoServer.keywords, "--pack", DemoServer.sounds, "--max-batch", "8"]) { api, _ in
            // Sent concurrently so that they are batched together; compared afterwards.
            let replies = try await withThrowingTaskGroup(of: (String, APIClient.Reply, APIClient.Reply).self) { group in
                for clip in DemoServer.clips {
                    group.addTask {
                        let audio = try DemoServer.bytes(clip)
                        let reply = try await api.send(.POST, "/v1/classify?pack=keywords&pack=sounds&logits=true&top_k=100", body: audio)
                        let perWindow = try await api.send(.POST, "/v1/classify?pack=keywords&pack=sounds&logits=true&top_k=100&window=0.5&hop=0.25&per_window=true",
                                                           body: audio)
                        return (URL(fileURLWithPath: clip).lastPathComponent, reply, perWindow)
                    }
                }
                var all: [(String, APIClient.Reply, APIClient.Reply)] = []
                for try await r in group { all.append(r) }
                return all
            }
            XCTAssertEqual(replies.count, DemoServer.clips.count)
            for (name, reply, perWindow) in replies {
                XCTAssertEqual(reply.status, 200, reply.text)
                for result in reply.object["results"] as? [[String: Any]] ?? [] {
                    let pack = result["pack"] as! String
                    assertSame(result, averaged["\(name) \(pack)"], "\(name) \(pack)")
                }
                XCTAssertEqual(perWindow.status, 200, perWindow.text)
                for result in perWindow.object["results"] as? [[String: Any]] ?? [] {
                    let pack = result["pack"] as! String
                    let windows = result["per_window"] as? [[String: Any]] ?? []
                    XCTAssertEqual(windows.count, windowed.keys.filter { $0.hasPrefix("\(name) \(pack) ") }.count, "\(name) \(pack) windows")
                    for w in windows {
                        let start = String(format: " %.3f", w["start"] as! Double)
                        assertSame(w, windowed["\(name) \(pack)\(start)"], "\(name) \(pack)\(start)")
                    }
                }
            }
        }
    }

    func testEmbedEqualsIpetEmbed() async throws {
        let dir = Fixtures.temporaryDirectory("serve-embed")
        var references: [String: SafeTensorsFile] = [:]
        for (kind, args) in [("layer=2", ["--layer", "2"]), ("pooled=true", ["--pooled"]), ("", [])] {
            let out = dir.appendingPathComponent("\(kind.isEmpty ? "auto" : kind).safetensors").path
            let run = try CommandRunner.run(["embed", "--backbone", DemoServer.backbone, "-o", out] + args + DemoServer.clips, timeout: 120)
            XCTAssertEqual(run.status, 0, run.stderr)
            references[kind] = try SafeTensorsFile(path: out)
        }
        try await DemoServer.with([]) { api, _ in
            for (kind, reference) in references {
                for clip in DemoServer.clips {
                    let reply = try await api.send(.POST, "/v1/embed" + (kind.isEmpty ? "" : "?\(kind)"), body: try DemoServer.bytes(clip))
                    XCTAssertEqual(reply.status, 200, reply.text)
                    let name = try XCTUnwrap(reference.tensorNames.first { clip.hasSuffix($0) || $0.hasSuffix("/" + URL(fileURLWithPath: clip).lastPathComponent) })
                    let expected = try reference.floats(name)
                    let served = (reply.object["embedding"] as? [Double] ?? []).map(Float.init)
                    XCTAssertEqual(reply.object["shape"] as? [Int], [expected.count])
                    XCTAssertLessThanOrEqual(maxAbsDifference(served, expected), 1e-5, "\(kind) \(clip)")
                }
            }
        }
    }
}
