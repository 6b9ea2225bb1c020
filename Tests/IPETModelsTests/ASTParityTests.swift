import IPETFormats
import IPETModels
import IPETTensor
import IPETTestSupport
import XCTest

/// AST forward pass against transformers' `ASTForAudioClassification` on the tiny fixtures
/// (Fixtures/ast, made by tools/make_ast_fixtures.py), on both GEMM backends. Tolerance: 1e-4 max abs on hidden
/// states and logits.
final class ASTParityTests: XCTestCase {
    override func setUp() { ComputeThreads.configure(2) }

    private func model(_ name: String) throws -> AudioSpectrogramTransformer {
        let checkpoint = try CheckpointImporter.load(Fixtures.path("ast/\(name)"))
        XCTAssertEqual(checkpoint.architecture, .ast)
        let config = try ASTConfiguration(config: checkpoint.config, source: checkpoint.source)
        return try AudioSpectrogramTransformer(config: config, weights: checkpoint.weights)
    }

    private func clips(_ reference: SafeTensorsFile) -> [String] {
        Set(reference.tensorNames.filter { $0.hasSuffix(".input_values") }.map { String($0.dropLast(".input_values".count)) }).sorted()
    }

    private func check(_ name: String, reference refName: String) throws {
        let model = try model(name)
        let reference = try Fixtures.safetensors("ast/references/\(refName).safetensors")
        let clips = clips(reference)
        XCTAssertGreaterThanOrEqual(clips.count, 5)
        try forEachGemmBackend { backend in try check(model, reference, clips: clips, label: "\(name) \(backend)") }
    }

    private func check(_ model: AudioSpectrogramTransformer, _ reference: SafeTensorsFile, clips: [String], label name: String) throws {
        for clip in clips {
            let inputInfo = try XCTUnwrap(reference.info("\(clip).input_values"))
            let input = Tensor(shape: [1] + inputInfo.shape, values: try reference.floats("\(clip).input_values"))
            let output = try model.forward(input, outputHiddenStates: true)
            let logits = try reference.floats("\(clip).logits")
            XCTAssertLessThan(maxAbsDifference(output.logits!.array, logits), 1e-4, "\(name) \(clip) logits")
            XCTAssertLessThan(maxAbsDifference(output.pooled.array, try reference.floats("\(clip).pooled")), 1e-4, "\(name) \(clip) pooled")
            if reference.info("\(clip).last_hidden_state") != nil {
                XCTAssertLessThan(maxAbsDifference(output.lastHiddenState.array, try reference.floats("\(clip).last_hidden_state")), 1e-4,
                                  "\(name) \(clip) last hidden state")
            }
            for (i, state) in output.hiddenStates.enumerated() where reference.info("\(clip).hidden_state.\(i)") != nil {
                XCTAssertLessThan(maxAbsDifference(state.array, try reference.floats("\(clip).hidden_state.\(i)")), 1e-4,
                                  "\(name) \(clip) hidden state \(i)")
            }
        }
    }

    func testTinyAMatchesTransformers() throws { try check("tiny-a", reference: "tiny-a") }
    func testTinyBWithOtherStridesMelBinsAndLengthMatchesTransformers() throws { try check("tiny-b", reference: "tiny-b") }
    func testTransformers5NamesGiveTheSameModel() throws { try check("tiny-a-5x", reference: "tiny-a") }
    func testTinyB5Names() throws { try check("tiny-b-5x", reference: "tiny-b") }

    func testLabelsComeFromId2Label() throws {
        XCTAssertEqual(try model("tiny-a").config.labels, ["dog", "rain", "siren", "speech", "engine"])
    }

    func testMissingTensorIsReportedByFullName() throws {
        let checkpoint = try CheckpointImporter.load(Fixtures.path("ast/tiny-a"))
        checkpoint.weights.remove("audio_spectrogram_transformer.encoder.layer.1.layernorm_after.bias")
        let config = try ASTConfiguration(config: checkpoint.config, source: checkpoint.source)
        XCTAssertThrowsError(try AudioSpectrogramTransformer(config: config, weights: checkpoint.weights)) { error in
            XCTAssertTrue("\(error)".contains("audio_spectrogram_transformer.encoder.layer.1.layernorm_after.bias"), "\(error)")
        }
    }
}
