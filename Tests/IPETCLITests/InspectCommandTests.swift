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

    /// Every tensor is listed with its dtype, integer and boolean ones too (they used to be left out silently: 7 of
    /// dtypes.safetensors' 9, 8 of misc.pth's 17); the parameter count keeps counting floating-point tensors and
    /// says how many others it leaves out.
    func testListsEveryTensorOfEveryDTypeAndSaysWhatTheParameterCountLeavesOut() throws {
        let safetensors = Fixtures.path("safetensors/python/dtypes.safetensors")
        let st = try SafeTensorsFile(path: safetensors)
        let torch = try TorchCheckpoint(path: Fixtures.path("torch/misc.pth"))
        let cases: [(String, [(name: String, dtype: DType, shape: [Int])])] = [
            (safetensors, st.tensors.map { ($0.name, $0.dtype, $0.shape) }),
            (Fixtures.path("torch/misc.pth"), torch.tensors.map { ($0.name, $0.dtype, $0.shape) }),
        ]
        for (path, expected) in cases {
            XCTAssertTrue(expected.contains { !$0.dtype.isFloatConvertible }, path)
            let result = try CommandRunner.run(["inspect", "--json", path])
            XCTAssertEqual(result.status, 0, result.stderr)
            let report = try JSONParser.parse(result.stdout)
            let listed = try XCTUnwrap(report["tensors"]?.array)
            XCTAssertEqual(listed.map { $0["name"]?.string }, expected.map(\.name), path)
            XCTAssertEqual(listed.map { $0["dtype"]?.string }, expected.map(\.dtype.rawValue), path)
            XCTAssertEqual(listed.map { $0["shape"]?.array?.map(\.int) }, expected.map { $0.shape.map(Optional.some) }, path)
            let floats = expected.filter(\.dtype.isFloatConvertible)
            let others = expected.count - floats.count
            XCTAssertEqual(report["parameters"]?.int, floats.reduce(0) { $0 + $1.shape.reduce(1, *) }, path)
            XCTAssertEqual(report["uncounted_non_float_tensors"]?.int, others, path)

            let table = try CommandRunner.run(["inspect", path])
            XCTAssertEqual(table.status, 0, table.stderr)
            for t in expected {
                XCTAssertTrue(table.stdout.split(separator: "\n").contains {
                    $0.hasPrefix(t.name + " ") && $0.contains(" \(t.dtype.rawValue) ")
                }, "\(path): \(t.name) \(t.dtype.rawValue) missing from\n\(table.stdout)")
            }
            XCTAssertTrue(table.stdout.contains("in floating-point tensors; \(others) tensors of other dtypes not counted"), table.stdout)
            XCTAssertTrue(table.stdout.contains("tensors:      \(expected.count)\n"), table.stdout)
        }
    }
}
