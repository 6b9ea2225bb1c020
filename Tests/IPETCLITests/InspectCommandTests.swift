import Foundation
import IPETFormats
import IPETTestSupport
import XCTest

/// `ipet inspect` as a user runs it: exit status, one-line errors, the table and the JSON.
final class InspectCommandTests: XCTestCase {
    func testEveryMalformedFileFailsWithExitStatus1AndOneLineNamingFileAndProblem() throws {
        let expected = try JSONFile.read(Fixtures.path("safetensors/malformed/expected.json"))
        let cases = try XCTUnwrap(expected.object)
        XCTAssertGreaterThanOrEqual(cases.count, 25)
        for (file, spec) in cases {
            let path = Fixtures.path("safetensors/malformed/\(file)")
            let started = Date()
            let result = try CommandRunner.run(["inspect", path])
            XCTAssertEqual(result.status, 1, "\(file): \(result.stderr)")
            XCTAssertEqual(result.stdout, "", file)
            let lines = result.stderr.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, "\(file): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains(path), "\(file): \(result.stderr)")
            XCTAssertTrue(result.stderr.lowercased().contains(spec["keyword"]!.string!.lowercased()), "\(file): \(result.stderr)")
            XCTAssertLessThan(Date().timeIntervalSince(started), 10, "\(file) took too long (hang?)")
        }
    }

    func testListsEveryTensorTransformersWroteForTheTinyASTFolder() throws {
        let names = try JSONFile.read(Fixtures.path("ast/tiny-a/state_dict_names.json"))
        let tensors = try XCTUnwrap(names["tensors"]?.object)
        let result = try CommandRunner.run(["inspect", "--json", Fixtures.path("ast/tiny-a")])
        XCTAssertEqual(result.status, 0, result.stderr)
        let report = try JSONParser.parse(result.stdout)
        XCTAssertEqual(report["architecture"]?.string, "audio-spectrogram-transformer")
        let listed = try XCTUnwrap(report["tensors"]?.array)
        XCTAssertEqual(listed.count, tensors.count)
        var total = 0
        for row in listed {
            let name = try XCTUnwrap(row["name"]?.string)
            let shape = row["shape"]!.array!.map { $0.int! }
            XCTAssertEqual(tensors.first(where: { $0.key == name })?.value["shape"]?.array?.map { $0.int! }, shape, name)
            total += shape.reduce(1, *)
        }
        XCTAssertEqual(report["parameters"]?.int, total)

        let table = try CommandRunner.run(["inspect", Fixtures.path("ast/tiny-a")])
        XCTAssertEqual(table.status, 0)
        XCTAssertTrue(table.stdout.contains("AST (Audio Spectrogram Transformer)"))
        for (name, _) in tensors { XCTAssertTrue(table.stdout.contains(name), name) }
        XCTAssertTrue(table.stdout.contains("parameters:   \(total)"))
    }

    func testUnknownArchitectureIsSaidPlainly() throws {
        let dir = Fixtures.temporaryDirectory()
        try #"{"model_type": "bert"}"#.write(to: dir.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: Fixtures.path("safetensors/python/dtypes.safetensors"),
                                         toPath: dir.appendingPathComponent("model.safetensors").path)
        let result = try CommandRunner.run(["inspect", dir.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("architecture: unknown (model_type \"bert\")"), result.stdout)
    }

    func testMissingPathIsAnError() throws {
        let result = try CommandRunner.run(["inspect", "/nonexistent/model"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("/nonexistent/model"))
    }
}
