import Foundation
import IPETEngine
import IPETFormats
import IPETModels
import IPETTensor
import IPETTestSupport
import XCTest

/// Every import path of the same tiny weights gives the safetensors original's fingerprint and outputs (issue:
/// importers). Tolerance 1e-5 on logits and hidden states.
final class ImportParityTests: XCTestCase {
    override func setUp() { ComputeThreads.configure(2) }

    /// A model folder holding `files` (copied) and the config files of `configFrom`.
    private func folder(_ files: [String: String], configFrom: String) throws -> String {
        let dir = Fixtures.temporaryDirectory("import")
        for name in ["config.json", "preprocessor_config.json"] {
            let source = Fixtures.path("\(configFrom)/\(name)")
            if FileManager.default.fileExists(atPath: source) {
                try FileManager.default.copyItem(atPath: source, toPath: dir.appendingPathComponent(name).path)
            }
        }
        for (target, source) in files {
            try FileManager.default.copyItem(atPath: Fixtures.path(source), toPath: dir.appendingPathComponent(target).path)
        }
        return dir.path
    }

    private func astLogits(_ backbone: Backbone) throws -> [Float] {
        let input = try Fixtures.safetensors("ast/references/tiny-a.safetensors").floats("chirp_6s_16k.input_values")
        return try TaskModel(backbone: backbone).run([input])[0].logits!
    }

    private func w2vStates(_ backbone: Backbone) throws -> [Float] {
        guard case let .wav2vec2(model, _) = backbone.model else { XCTFail("not wav2vec2"); return [] }
        let wave = try Fixtures.safetensors("wav2vec2/references/inputs.safetensors").floats("one_second.waveform")
        return try model.forward(Tensor(shape: [1, wave.count], values: wave)).lastHiddenState.array
    }

    func testPyTorchBinGivesTheSafetensorsFingerprintAndLogits() throws {
        let original = try Backbone.load(Fixtures.path("ast/tiny-a"))
        let bin = try Backbone.load(try folder(["pytorch_model.bin": "torch/pytorch_model.bin"], configFrom: "ast/tiny-a"))
        XCTAssertEqual(bin.fingerprint, original.fingerprint)
        XCTAssertLessThan(maxAbsDifference(try astLogits(bin), try astLogits(original)), 1e-5)
        let w2v = try Backbone.load(try folder(["pytorch_model.bin": "torch/gn-postln.bin"], configFrom: "wav2vec2/gn-postln"))
        let w2vOriginal = try Backbone.load(Fixtures.path("wav2vec2/gn-postln"))
        XCTAssertEqual(w2v.fingerprint, w2vOriginal.fingerprint)
        XCTAssertLessThan(maxAbsDifference(try w2vStates(w2v), try w2vStates(w2vOriginal)), 1e-5)
    }

    func testOriginalASTCheckpointWithTimmNamesAndFusedQKV() throws {
        let original = try Backbone.load(Fixtures.path("ast/tiny-a"))
        let config = try JSONFile.read(Fixtures.path("ast/tiny-a/config.json"))
        let timm = try Backbone(try CheckpointImporter.load(Fixtures.path("original/ast-tiny-a-timm.pth"), configOverride: config))
        XCTAssertEqual(timm.fingerprint, original.fingerprint)
        XCTAssertLessThan(maxAbsDifference(try astLogits(timm), try astLogits(original)), 1e-5)
    }

    func testTensorFlowHDF5WrittenByTransformersGivesTheSameModel() throws {
        let original = try Backbone.load(Fixtures.path("wav2vec2/gn-postln"))
        for name in ["gn-postln", "gn-postln-sharded"] {
            let tf = try Backbone.load(Fixtures.path("tf/\(name)"))
            XCTAssertEqual(tf.fingerprint, original.fingerprint, name)
            XCTAssertLessThan(maxAbsDifference(try w2vStates(tf), try w2vStates(original)), 1e-5, name)
        }
        let seqcls = try Backbone.load(Fixtures.path("tf/ln-preln-seqcls"))
        XCTAssertEqual(seqcls.fingerprint, try Backbone.load(Fixtures.path("wav2vec2/ln-preln-seqcls")).fingerprint)
    }

    func testConvertedFilesInEveryContainerReloadIdentically() throws {
        let original = try Backbone.load(Fixtures.path("ast/tiny-a"))
        let dir = Fixtures.temporaryDirectory("convert")
        for format in CheckpointConverter.OutputFormat.allCases {
            let out = dir.appendingPathComponent("tiny-a.\(format.rawValue)").path
            let result = try CheckpointConverter.convert(input: Fixtures.path("ast/tiny-a"), output: out, format: format)
            XCTAssertEqual(result.fingerprint, original.fingerprint)
            let converted = try Backbone.load(out)
            XCTAssertEqual(converted.fingerprint, original.fingerprint, format.rawValue)
            XCTAssertLessThan(maxAbsDifference(try astLogits(converted), try astLogits(original)), 1e-5, format.rawValue)
        }
    }

    func testF16ConversionHalvesTheFileKeepsLogitsCloseAndPacksVerifyWithAWarning() throws {
        let dir = Fixtures.temporaryDirectory("f16")
        let f32 = dir.appendingPathComponent("f32.safetensors").path, f16 = dir.appendingPathComponent("f16.safetensors").path
        _ = try CheckpointConverter.convert(input: Fixtures.path("ast/tiny-a"), output: f32)
        let result = try CheckpointConverter.convert(input: Fixtures.path("ast/tiny-a"), output: f16, dtype: .f16)
        let size32 = try FileManager.default.attributesOfItem(atPath: f32)[.size] as! Int
        let size16 = try FileManager.default.attributesOfItem(atPath: f16)[.size] as! Int
        XCTAssertLessThan(abs(Double(size16) / Double(size32) - 0.5), 0.02, "\(size16) vs \(size32)")
        let original = try Backbone.load(Fixtures.path("ast/tiny-a"))
        let half = try Backbone.load(f16)
        XCTAssertNotEqual(half.fingerprint, original.fingerprint)
        XCTAssertEqual(half.fingerprint, result.fingerprint)
        XCTAssertEqual(half.derivedFrom, [original.fingerprint])
        let diff = maxAbsDifference(try astLogits(half), try astLogits(original))
        XCTAssertLessThan(diff, 1e-2)
        print("F16 conversion: max |logit difference| \(diff)")
        let pack = try AdapterPack(path: Fixtures.path("packs/ast-tiny-a.ipet"))
        guard case .derived = PackVerification.check(pack, against: half) else { return XCTFail("pack should verify with a precision warning") }
    }

    func testOfficialIPETCheckpointsBecomePacksThatMatchTheModelThatSavedThem() throws {
        let dir = Fixtures.temporaryDirectory("ipet-ckpt")
        let ast = try Backbone.load(Fixtures.path("ast/tiny-a"))
        let astPack = dir.appendingPathComponent("ast.ipet").path
        _ = try IPETCheckpointConverter.convert(checkpoint: Fixtures.path("original/ipet-ast-tiny-a-short.pth"), backbone: ast, output: astPack)
        let reference = try Fixtures.safetensors("packs/references/ast-tiny-a-short.safetensors")
        let task = try TaskModel(backbone: ast, pack: try AdapterPack(path: astPack))
        for clip in ["chirp_6s_16k", "tone440_2s_16k"] {
            let out = try task.run([try reference.floats("\(clip).input_values")])[0]
            XCTAssertLessThan(maxAbsDifference(out.logits!, try reference.floats("\(clip).logits")), 1e-4, clip)
        }
        let w2v = try Backbone.load(Fixtures.path("wav2vec2/gn-postln"))
        let w2vPack = dir.appendingPathComponent("w2v.ipet").path
        _ = try IPETCheckpointConverter.convert(checkpoint: Fixtures.path("original/ipet-w2v2-gn-postln.pth"), backbone: w2v, output: w2vPack)
        let p = try AdapterPack(path: w2vPack)
        XCTAssertTrue(p.config.adapterResidual, "the official wav2vec 2.0 code adds the residual copy")
        let w2vReference = try Fixtures.safetensors("packs/references/w2v2-gn-postln-residual.safetensors")
        let wave = try Fixtures.safetensors("wav2vec2/references/inputs.safetensors").floats("clip_3p7s.waveform")
        let logits = try TaskModel(backbone: w2v, pack: p).run([wave])[0].logits!
        XCTAssertLessThan(maxAbsDifference(logits, try w2vReference.floats("clip_3p7s.logits")), 1e-4)
    }

    func testOfficialCheckpointTunedFromAnotherBackboneIsRefused() throws {
        let other = try Backbone.load(Fixtures.path("ast/tiny-b"))
        let out = Fixtures.temporaryDirectory().appendingPathComponent("x.ipet").path
        XCTAssertThrowsError(try IPETCheckpointConverter.convert(checkpoint: Fixtures.path("original/ipet-ast-tiny-a-short.pth"),
                                                                 backbone: other, output: out))
        let changed = Fixtures.temporaryDirectory("changed")
        // tiny-a with one weight nudged is "another backbone" too: the comparison names the tensor.
        try FileManager.default.copyItem(atPath: Fixtures.path("ast/tiny-a/config.json"), toPath: changed.appendingPathComponent("config.json").path)
        let file = try Fixtures.safetensors("ast/tiny-a/model.safetensors")
        var writer = SafeTensorsWriter(metadata: [("format", "pt")])
        for info in file.tensors {
            var v = try file.floats(info.name)
            if info.name.hasSuffix("layer.0.output.dense.bias") { v[0] += 0.01 }
            writer.add(.init(name: info.name, shape: info.shape, floats: v))
        }
        try writer.write(to: changed.appendingPathComponent("model.safetensors").path)
        XCTAssertThrowsError(try IPETCheckpointConverter.convert(checkpoint: Fixtures.path("original/ipet-ast-tiny-a-short.pth"),
                                                                 backbone: try Backbone.load(changed.path), output: out)) { error in
            XCTAssertTrue("\(error)".contains("mlp.fc2.bias"), "\(error)")
        }
    }
}
