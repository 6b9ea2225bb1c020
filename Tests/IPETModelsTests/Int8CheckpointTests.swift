import Foundation
import IPETFormats
import IPETModels
import IPETTensor
import IPETTestSupport
import XCTest

/// Int8 checkpoints (`Formats/int8.md`): a well-formed file imports with its int8 weights as written, and every
/// malformed one is refused at load with one message naming the file and the tensor.
final class Int8CheckpointTests: XCTestCase {
    static let prefix = "audio_spectrogram_transformer.encoder.layer.0.attention.attention.query."
    static let weightName = prefix + "weight"
    static let scaleName = weightName + Int8Checkpoint.scaleSuffix

    /// The tiny AST fixture as an int8 file: the Linear weights of its layers quantised by `QuantizedWeight.quantize`
    /// (I8 + F32 `_scale`), everything else F32 as in the source, the config and the marker in metadata; `edit` may
    /// change the entries before they are written.
    private func int8File(_ name: String, marker: String? = Int8Checkpoint.scheme,
                          edit: (inout [SafeTensorsWriter.Entry]) -> Void = { _ in }) throws -> String {
        let source = try SafeTensorsFile(path: Fixtures.path("ast/tiny-a/model.safetensors"))
        let linear = try NSRegularExpression(pattern: #"encoder\.layer\.\d+\.(attention\.attention\.(query|key|value)|attention\.output\.dense|intermediate\.dense|output\.dense)\.weight$"#)
        var entries: [SafeTensorsWriter.Entry] = []
        for info in source.tensors {
            let values = try source.floats(info.name)
            let range = NSRange(info.name.startIndex..., in: info.name)
            if linear.firstMatch(in: info.name, range: range) != nil {
                let q = QuantizedWeight.quantize(Tensor(shape: info.shape, values: values))
                entries.append(.init(name: info.name, dtype: .i8, shape: info.shape,
                                     data: Array(UnsafeRawBufferPointer(start: q.data, count: values.count))))
                entries.append(.init(name: info.name + Int8Checkpoint.scaleSuffix, shape: [info.shape[0]], floats: q.scales.array))
            } else {
                entries.append(.init(name: info.name, shape: info.shape, floats: values))
            }
        }
        edit(&entries)
        var metadata: [(key: String, value: String)] = [
            ("format", "pt"), ("config", try JSONFile.read(Fixtures.path("ast/tiny-a/config.json")).compactText),
        ]
        if let marker { metadata.append((Int8Checkpoint.metadataKey, marker)) }
        var writer = SafeTensorsWriter(metadata: metadata)
        for e in entries { writer.add(e) }
        let path = Fixtures.temporaryDirectory("int8-checkpoint").appendingPathComponent(name).path
        try writer.write(to: path)
        return path
    }

    private func replacing(_ name: String, with entry: SafeTensorsWriter.Entry?) -> (inout [SafeTensorsWriter.Entry]) -> Void {
        { entries in
            let i = entries.firstIndex { $0.name == name }!
            if let entry { entries[i] = entry } else { entries.remove(at: i) }
        }
    }

    private func assertRefused(_ path: String, _ expected: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try CheckpointImporter.load(path), file: file, line: line) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(path), "names the file: \(text)", file: file, line: line)
            for part in expected { XCTAssertTrue(text.contains(part), "\(part) in: \(text)", file: file, line: line) }
        }
    }

    func testWellFormedFileImportsItsInt8WeightsAsWritten() throws {
        let path = try int8File("good.safetensors")
        let checkpoint = try CheckpointImporter.load(path)
        XCTAssertTrue(checkpoint.weights.isInt8)
        let q = try XCTUnwrap(checkpoint.weights.int8Weights[Self.weightName])
        let source = try SafeTensorsFile(path: Fixtures.path("ast/tiny-a/model.safetensors"))
        let expected = QuantizedWeight.quantize(Tensor(shape: [64, 64], values: try source.floats(Self.weightName)))
        XCTAssertEqual(Array(UnsafeBufferPointer(start: q.data, count: 64 * 64)), Array(UnsafeBufferPointer(start: expected.data, count: 64 * 64)))
        XCTAssertEqual(q.scales.array, expected.scales.array)
        XCTAssertTrue(q.values.isMapped, "I8 values are used in place from the mapped file")
        XCTAssertNil(checkpoint.weights.tensors[Self.weightName], "no float32 copy of an int8 weight")
    }

    func testScaleMissingIsRefused() throws {
        assertRefused(try int8File("no-scale.safetensors", edit: replacing(Self.scaleName, with: nil)),
                      ["\"\(Self.weightName)\"", "has no scale tensor", Self.scaleName])
    }

    func testScaleOfTheWrongShapeIsRefused() throws {
        let edit = replacing(Self.scaleName, with: .init(name: Self.scaleName, shape: [32], floats: [Float](repeating: 0.01, count: 32)))
        assertRefused(try int8File("short-scale.safetensors", edit: edit), ["\"\(Self.scaleName)\"", "shape [32], expected [64]"])
        let matrix = replacing(Self.scaleName, with: .init(name: Self.scaleName, shape: [64, 1], floats: [Float](repeating: 0.01, count: 64)))
        assertRefused(try int8File("matrix-scale.safetensors", edit: matrix), ["\"\(Self.scaleName)\"", "shape [64, 1], expected [64]"])
    }

    func testZeroNegativeOrNaNScaleIsRefused() throws {
        for (label, bad, shown) in [("zero", Float(0), "zero"), ("nan", Float.nan, "NaN"), ("negative", Float(-0.5), "-0.5"),
                                    ("infinite", Float.infinity, "inf")] {
            var scales = [Float](repeating: 0.01, count: 64)
            scales[17] = bad
            let path = try int8File("\(label)-scale.safetensors",
                                    edit: replacing(Self.scaleName, with: .init(name: Self.scaleName, shape: [64], floats: scales)))
            assertRefused(path, ["\"\(Self.scaleName)\"", "\(shown) at index 17", "finite and above 0"])
        }
    }

    func testScaleThatIsNotF32IsRefused() throws {
        let edit = replacing(Self.scaleName, with: .init(name: Self.scaleName, shape: [64], floats: [Float](repeating: 0.01, count: 64), as: .f16))
        assertRefused(try int8File("f16-scale.safetensors", edit: edit), ["\"\(Self.scaleName)\"", "F16", "scales are F32"])
    }

    func testScaleWithoutItsInt8TensorIsRefused() throws {
        // The weight stored as F32 beside a leftover scale: which one is meant is unknowable.
        let source = try SafeTensorsFile(path: Fixtures.path("ast/tiny-a/model.safetensors"))
        let edit = replacing(Self.weightName, with: .init(name: Self.weightName, shape: [64, 64], floats: try source.floats(Self.weightName)))
        assertRefused(try int8File("orphan-scale.safetensors", edit: edit),
                      ["\"\(Self.scaleName)\"", "has no int8 tensor", "is F32"])
    }

    func testInt8TensorThatIsNotAMatrixIsRefused() throws {
        let edit = replacing(Self.weightName, with: .init(name: Self.weightName, dtype: .i8, shape: [4096], data: [UInt8](repeating: 1, count: 4096)))
        assertRefused(try int8File("flat.safetensors", edit: edit), ["\"\(Self.weightName)\"", "shape [4096]", "[out, in]"])
    }

    func testInt8TensorOfTheWrongShapeIsRefusedByTheModel() throws {
        var edit: (inout [SafeTensorsWriter.Entry]) -> Void = replacing(
            Self.weightName, with: .init(name: Self.weightName, dtype: .i8, shape: [64, 32], data: [UInt8](repeating: 1, count: 2048)))
        let first = edit
        edit = { entries in
            first(&entries)
            let i = entries.firstIndex { $0.name == Self.scaleName }!
            entries[i] = .init(name: Self.scaleName, shape: [64], floats: [Float](repeating: 0.01, count: 64))
        }
        let path = try int8File("narrow.safetensors", edit: edit)
        let checkpoint = try CheckpointImporter.load(path)
        XCTAssertThrowsError(try AudioSpectrogramTransformer(config: ASTConfiguration(config: checkpoint.config, source: path),
                                                             weights: checkpoint.weights)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(path) && text.contains(Self.weightName) && text.contains("[64, 32], expected [64, 64]"), text)
        }
    }

    func testInt8WeightOfALayerThatRunsInFloat32IsRefused() throws {
        // The patch embedding is a convolution: int8 is for the projections only.
        let name = "audio_spectrogram_transformer.embeddings.position_embeddings"
        let source = try SafeTensorsFile(path: Fixtures.path("ast/tiny-a/model.safetensors"))
        let shape = source.info(name)!.shape
        let count = shape.reduce(1, *)
        let path = try int8File("int8-positions.safetensors") { entries in
            let i = entries.firstIndex { $0.name == name }!
            entries[i] = .init(name: name, dtype: .i8, shape: [shape[1], shape[2]], data: [UInt8](repeating: 1, count: count))
            entries.append(.init(name: name + Int8Checkpoint.scaleSuffix, shape: [shape[1]], floats: [Float](repeating: 0.01, count: shape[1])))
        }
        let checkpoint = try CheckpointImporter.load(path)
        XCTAssertThrowsError(try AudioSpectrogramTransformer(config: ASTConfiguration(config: checkpoint.config, source: path),
                                                             weights: checkpoint.weights)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(path) && text.contains(name) && text.contains("stored as int8"), text)
        }
    }

    func testUnknownSchemeIsRefused() throws {
        assertRefused(try int8File("scheme.safetensors", marker: "int4-groupwise"),
                      ["\"\(Int8Checkpoint.metadataKey)\"", "int4-groupwise", Int8Checkpoint.scheme])
    }

    func testI8TensorsWithoutTheMarkerAreNotWeights() throws {
        // Without the marker an I8 tensor is an integer tensor like any other: dropped, so the weight is missing.
        let path = try int8File("unmarked.safetensors", marker: nil)
        let (checkpoint, dropped) = try CheckpointImporter.load(CheckpointImporter.read(path))
        XCTAssertTrue(dropped.contains { $0.name == Self.weightName })
        XCTAssertFalse(checkpoint.weights.isInt8)
        XCTAssertThrowsError(try AudioSpectrogramTransformer(config: ASTConfiguration(config: checkpoint.config, source: path),
                                                             weights: checkpoint.weights)) { error in
            XCTAssertTrue("\(error)".contains("missing tensor"), "\(error)")
        }
    }
}
