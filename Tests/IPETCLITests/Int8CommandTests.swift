import Foundation
import IPETFormats
import IPETTestSupport
import XCTest

/// `ipet convert --dtype int8`, `--compute int8` and int8 files through the commands (`Formats/int8.md`).
final class Int8CommandTests: XCTestCase {
    private static let backbone = Fixtures.path("demo/backbone")
    private static let pack = Fixtures.path("demo/packs/keywords.ipet")

    private func run(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> CommandRunner.Result {
        let result = try CommandRunner.run(args)
        XCTAssertEqual(result.status, 0, "ipet \(args.joined(separator: " ")): \(result.stderr)", file: file, line: line)
        return result
    }

    private func convertToInt8() throws -> (dir: URL, int8: String, f32: String) {
        let dir = Fixtures.temporaryDirectory("int8-cli")
        let int8 = dir.appendingPathComponent("backbone-int8.safetensors").path
        let f32 = dir.appendingPathComponent("backbone-f32.safetensors").path
        _ = try run(["convert", Self.backbone, f32])
        let converted = try run(["convert", Self.backbone, int8, "--dtype", "int8"])
        XCTAssertTrue(converted.stdout.contains("derived from sha256:"), converted.stdout)
        return (dir, int8, f32)
    }

    func testConvertInt8RoundTrip() throws {
        let (dir, int8, f32) = try convertToInt8()
        let file = try SafeTensorsFile(path: int8)
        XCTAssertEqual(file.metadataValue("ipet.quantization"), "int8-per-output-channel-v1")
        let original = try SafeTensorsFile(path: f32).metadataValue("ipet.fingerprint")!
        XCTAssertEqual(file.metadataValue("ipet.derived_from"), "[\"\(original)\"]")
        // Every I8 tensor has its F32 scale, one per output channel; nothing else is int8.
        let int8Tensors = file.tensors.filter { $0.dtype == .i8 }
        XCTAssertEqual(int8Tensors.count, 4 * 6, "four layers × (q, k, v, out, up, down)")
        for t in int8Tensors {
            XCTAssertEqual(file.info(t.name + "_scale")?.dtype, .f32, t.name)
            XCTAssertEqual(file.info(t.name + "_scale")?.shape, [t.shape[0]], t.name)
        }
        // The int8 file predicts exactly what --compute int8 predicts from the float32 backbone.
        let clips = Fixtures.path("demo/clips/keywords")
        let fromFile = try run(["predict", "--backbone", int8, "--pack", Self.pack, "--logits", "--quiet", clips])
        let atLoad = try run(["predict", "--backbone", Self.backbone, "--pack", Self.pack, "--compute", "int8", "--logits", "--quiet", clips])
        XCTAssertEqual(fromFile.stdout, atLoad.stdout)
        XCTAssertTrue(fromFile.stderr.contains("precision"), "the pack was made for the float32 weights: \(fromFile.stderr)")
        // Back to float32: the dequantised weights, same fingerprint as the int8 file, same derived_from.
        let back = dir.appendingPathComponent("back.safetensors").path
        _ = try run(["convert", int8, back])
        let backFile = try SafeTensorsFile(path: back)
        XCTAssertTrue(backFile.tensors.allSatisfy { $0.dtype == .f32 })
        XCTAssertNil(backFile.metadataValue("ipet.quantization"))
        XCTAssertEqual(backFile.metadataValue("ipet.fingerprint"), file.metadataValue("ipet.fingerprint"))
        XCTAssertEqual(backFile.metadataValue("ipet.derived_from"), file.metadataValue("ipet.derived_from"))
        // Converting the int8 file to int8 again keeps its bytes' meaning: the same fingerprint.
        let again = dir.appendingPathComponent("again.safetensors").path
        _ = try run(["convert", int8, again, "--dtype", "int8"])
        XCTAssertEqual(try SafeTensorsFile(path: again).metadataValue("ipet.fingerprint"), file.metadataValue("ipet.fingerprint"))
    }

    /// The size: each int8 weight is one byte plus 4 bytes of scale per output channel, so the projections shrink to
    /// (1 + 4/in) / 4 of their float32 bytes (≤ 0.27 for in ≥ 64). The demo's tiny AST spends a third of its bytes on
    /// the patch embedding (kept float32), so its whole file is 0.36×; full size (AST base, wav2vec 2.0 base) the
    /// file is ≤ 0.3× (measured in `Formats/int8.md`).
    func testInt8WeightsTakeAQuarterOfTheirFloat32Bytes() throws {
        let (_, int8, f32) = try convertToInt8()
        let small = try SafeTensorsFile(path: int8), large = try SafeTensorsFile(path: f32)
        var int8Bytes = 0, floatBytes = 0
        for t in small.tensors where t.dtype == .i8 {
            let scale = small.info(t.name + "_scale")!
            int8Bytes += t.byteCount + scale.byteCount
            floatBytes += large.info(t.name)!.byteCount
            XCTAssertEqual(t.byteCount, t.shape[0] * t.shape[1])
        }
        XCTAssertLessThanOrEqual(Double(int8Bytes) / Double(floatBytes), 0.27)
        let ratio = Double(try FileManager.default.attributesOfItem(atPath: int8)[.size] as! Int)
            / Double(try FileManager.default.attributesOfItem(atPath: f32)[.size] as! Int)
        XCTAssertLessThan(ratio, 0.4, "whole tiny file")
    }

    func testPackVerifyAgainstAnInt8BackboneGivesThePrecisionWarning() throws {
        let (_, int8, _) = try convertToInt8()
        let result = try run(["pack", "verify", Self.pack, "--backbone", int8])
        XCTAssertTrue(result.stdout.hasPrefix("OK with a precision warning:"), result.stdout)
        XCTAssertTrue(result.stdout.contains("was converted from those weights"), result.stdout)
        // Quantising at load keeps the float32 weights' fingerprint: a plain match.
        let atLoad = try run(["pack", "verify", Self.pack, "--backbone", Self.backbone, "--compute", "int8"])
        XCTAssertTrue(atLoad.stdout.hasPrefix("OK: "), atLoad.stdout)
    }

    func testComputeInt8KeepsTheTopLabelsAndChangesLogitsALittle() throws {
        let clips = Fixtures.path("demo/clips")
        /// file → (top label, logits)
        func predict(_ extra: [String]) throws -> [String: (String, [Float])] {
            let out = try run(["predict", "--backbone", Self.backbone, "--pack", Self.pack, "--logits", "--quiet", clips] + extra).stdout
            var result: [String: (String, [Float])] = [:]
            for line in out.split(separator: "\n") {
                let record = try JSONParser.parse(String(line))
                result[record["file"]!.string!] = (record["top"]!.array![0]["label"]!.string!,
                                                   record["logits"]!.array!.map { Float($0.double!) })
            }
            return result
        }
        let f32 = try predict([]), int8 = try predict(["--compute", "int8"])
        XCTAssertEqual(Set(f32.keys), Set(int8.keys))
        XCTAssertGreaterThanOrEqual(f32.count, 16)
        var worst: Float = 0
        for (file, (label, logits)) in f32 {
            XCTAssertEqual(int8[file]!.0, label, file)
            worst = max(worst, maxAbsDifference(logits, int8[file]!.1))
        }
        XCTAssertGreaterThan(worst, 0, "int8 is not float32")
        // Logits here span about ±12: the demo's int8 error is a few hundredths (docs/native-libraries.md §8).
        XCTAssertLessThan(worst, 0.25)
    }

    func testEmbedWithComputeInt8StaysWithinTheBound() throws {
        let dir = Fixtures.temporaryDirectory("int8-cli")
        let f32 = dir.appendingPathComponent("f32.safetensors").path, int8 = dir.appendingPathComponent("int8.safetensors").path
        let clips = Fixtures.path("demo/clips/keywords")
        _ = try run(["embed", "--backbone", Self.backbone, "-o", f32, clips])
        _ = try run(["embed", "--backbone", Self.backbone, "--compute", "int8", "-o", int8, clips])
        let a = try SafeTensorsFile(path: f32), b = try SafeTensorsFile(path: int8)
        XCTAssertEqual(a.tensors.map(\.name), b.tensors.map(\.name))
        var worst: Float = 0
        for t in a.tensors {
            let x = try a.floats(t.name), y = try b.floats(t.name)
            worst = max(worst, maxAbsDifference(x, y) / (x.map(abs).max() ?? 1))
        }
        // The bound of Int8BackboneTests (5 % of the largest float32 magnitude); measured 2.2 %.
        XCTAssertGreaterThan(worst, 0)
        XCTAssertLessThan(worst, 0.05)
    }

    func testComputeAndDtypeAreRefusedWhereTheyDoNotApply() throws {
        let dir = Fixtures.temporaryDirectory("int8-cli")
        let convert = try CommandRunner.run(["convert", Self.backbone, dir.appendingPathComponent("x.safetensors").path, "--compute", "int8"])
        XCTAssertNotEqual(convert.status, 0)
        XCTAssertTrue(convert.stderr.contains("--dtype int8"), convert.stderr)
        let hdf5 = try CommandRunner.run(["convert", Self.backbone, dir.appendingPathComponent("x.h5").path, "--dtype", "int8", "--to", "hdf5"])
        XCTAssertNotEqual(hdf5.status, 0)
        XCTAssertTrue(hdf5.stderr.contains("safetensors only"), hdf5.stderr)
        let verify = try CommandRunner.run(["verify", "--scores", Fixtures.path("verification/tiny.txt"), "--compute", "int8"])
        XCTAssertNotEqual(verify.status, 0)
    }
}
