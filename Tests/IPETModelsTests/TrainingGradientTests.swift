import IPETFormats
import IPETModels
import IPETTensor
import IPETTestSupport
import XCTest

/// Gradients of every pack tensor against PyTorch autograd on tools/ipet_reference.py's models (Fixtures/training,
/// made by tools/make_training_fixtures.py: non-zero random prompts, adapters and heads, dropout off, a batch of 4).
/// Tolerance per element: |ours − PyTorch's| ≤ max(1e-4·|PyTorch's|, 1e-6).
final class TrainingGradientTests: XCTestCase {
    override func setUp() { ComputeThreads.configure(2) }

    /// The batch a fixture holds, ready for the model.
    struct Case {
        let model: PackTrainingModel
        let reference: SafeTensorsFile
        let features: PackTrainingModel.FrozenFeatures
        let labels: [Int]
    }

    static func load(_ name: String) throws -> Case {
        let pack = try AdapterPack(path: Fixtures.path("training/\(name).ipet"))
        let reference = try Fixtures.safetensors("training/\(name).safetensors")
        let backboneFolder = try XCTUnwrap(pack.backbone.name)  // "Fixtures/<backbone>"
        let checkpoint = try CheckpointImporter.load(Fixtures.path(String(backboneFolder.dropFirst("Fixtures/".count))))
        let backbone: PackTrainingModel.Backbone
        let input: Tensor
        switch checkpoint.architecture {
        case .ast:
            let model = try AudioSpectrogramTransformer(
                config: try ASTConfiguration(config: checkpoint.config, source: checkpoint.source), weights: checkpoint.weights)
            let info = try XCTUnwrap(reference.info("input_values"))
            input = Tensor(shape: info.shape, values: try reference.floats("input_values"))
            backbone = .ast(model, positions: try model.positionEmbeddings(forFrames: info.shape[1]))
        case .wav2vec2:
            let model = try Wav2Vec2Model(
                config: try Wav2Vec2Configuration(config: checkpoint.config, source: checkpoint.source), weights: checkpoint.weights)
            let info = try XCTUnwrap(reference.info("waveforms"))
            input = Tensor(shape: info.shape, values: try reference.floats("waveforms"))
            backbone = .wav2vec2(model)
        }
        let model = try PackTrainingModel(backbone: backbone, parameters: try PackParameters(pack: pack), source: name)
        let valid = try JSONParser.parse(try XCTUnwrap(reference.metadataValue("valid_samples"))).array?.compactMap(\.int)
        let features = try model.frozenFeatures(input, validSamples: valid, workspace: Workspace())
        let labels = try JSONParser.parse(try XCTUnwrap(reference.metadataValue("labels"))).array!.compactMap(\.int)
        return Case(model: model, reference: reference, features: features, labels: labels)
    }

    /// Every gradient element within max(1e-4·|PyTorch's|, 1e-6); prints the largest absolute error, the largest
    /// relative error where |PyTorch's| ≥ 1e-3, and the largest share of the bound used.
    private func check(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let c = try Self.load(name)
        let parameters = c.model.parameters
        parameters.zeroGradients()
        _ = try c.model.accumulateGradients(c.features, labels: c.labels, lossScale: 1 / Float(c.labels.count), workspace: Workspace())
        var worstAbsolute: Float = 0, worstRelative: Float = 0, worstShare: Float = 0
        for tensor in parameters.names {
            let ours = parameters.gradients[tensor]!.array
            let theirs = try c.reference.floats("grad.\(tensor)")
            XCTAssertEqual(ours.count, theirs.count, "\(name) \(tensor)", file: file, line: line)
            for (i, (a, b)) in zip(ours, theirs).enumerated() {
                let error = abs(a - b), bound = max(1e-4 * abs(b), 1e-6)
                worstAbsolute = max(worstAbsolute, error)
                if abs(b) >= 1e-3 { worstRelative = max(worstRelative, error / abs(b)) }
                worstShare = max(worstShare, error / bound)
                if !(error <= bound) {
                    return XCTFail("\(name) grad.\(tensor)[\(i)]: ours \(a), PyTorch \(b)", file: file, line: line)
                }
            }
        }
        print("\(name): \(parameters.names.count) gradients, max error \(worstAbsolute) absolute, \(worstRelative) relative "
              + "(|g| >= 1e-3), \(worstShare) of the bound")
    }

    func testASTPooledHeadGradientsMatchPyTorch() throws { try check("ast-pooled") }
    func testASTSpeakerHeadGradientsMatchPyTorch() throws { try check("ast-speaker") }
    func testHeadOnlyGradientsMatchPyTorch() throws { try check("ast-head-only") }
    func testWav2Vec2PostLNGradientsMatchPyTorch() throws { try check("w2v2-postln") }
    func testWav2Vec2AdapterResidualGradientsMatchPyTorch() throws { try check("w2v2-postln-residual") }
    func testWav2Vec2SpeakerHeadGradientsMatchPyTorch() throws { try check("w2v2-postln-speaker") }
    func testWav2Vec2PreLNPaddedBatchGradientsMatchPyTorch() throws { try check("w2v2-preln-masked") }
}
