import IPETFormats
import IPETModels
import IPETTensor
import IPETTestSupport
import XCTest

/// Adam and whole training steps against PyTorch (Fixtures/training): one `torch.optim.Adam` step with IPET's settings
/// from PyTorch's own gradients (tolerance 1e-6 per parameter), and five steps of our forward, backward and Adam
/// over a fixed batch order (tolerance 1e-4 per loss). Dropout off, as in the fixtures.
final class TrainingStepTests: XCTestCase {
    override func setUp() { ComputeThreads.configure(2) }

    static let cases = ["ast-pooled", "ast-speaker", "ast-head-only", "w2v2-postln", "w2v2-postln-residual", "w2v2-postln-speaker",
                        "w2v2-preln-masked"]

    private func adamSettings(_ reference: SafeTensorsFile) throws -> (Adam.Settings, Double) {
        let a = try JSONParser.parse(try XCTUnwrap(reference.metadataValue("adam")))
        let betas = try XCTUnwrap(a["betas"]?.array?.compactMap(\.double))
        return (Adam.Settings(beta1: betas[0], beta2: betas[1], eps: try XCTUnwrap(a["eps"]?.double),
                              weightDecay: try XCTUnwrap(a["weight_decay"]?.double)), try XCTUnwrap(a["lr"]?.double))
    }

    func testOneAdamStepFromPyTorchsGradientsMatchesPyTorch() throws {
        for name in Self.cases {
            let c = try TrainingGradientTests.load(name)
            let parameters = c.model.parameters
            for tensor in parameters.names {
                let g = try c.reference.floats("grad.\(tensor)")
                parameters.gradients[tensor]!.mutableData.update(from: g, count: g.count)
            }
            let (settings, lr) = try adamSettings(c.reference)
            Adam(settings: settings, shapes: parameters.layout.tensorShapes).step(parameters, learningRate: lr)
            var worst: Float = 0
            for tensor in parameters.names {
                worst = max(worst, maxAbsDifference(parameters.values[tensor]!.array, try c.reference.floats("adam.\(tensor)")))
            }
            XCTAssertLessThanOrEqual(worst, 1e-6, "\(name): parameters after one Adam step")
            print("\(name): one Adam step, max |ours - PyTorch| = \(worst)")
        }
    }

    func testFiveStepsGiveThePyTorchLosses() throws {
        for name in Self.cases {
            let c = try TrainingGradientTests.load(name)
            let steps = try JSONParser.parse(try XCTUnwrap(c.reference.metadataValue("steps"))).array!.map { $0.array!.compactMap(\.int) }
            let (settings, lr) = try adamSettings(c.reference)
            let parameters = c.model.parameters
            let adam = Adam(settings: settings, shapes: parameters.layout.tensorShapes)
            var losses: [Float] = []
            for items in steps {
                parameters.zeroGradients()
                let batch = PackTrainingModel.FrozenFeatures.batch(items.map { c.features.item($0) })
                let step = try c.model.accumulateGradients(batch, labels: items.map { c.labels[$0] }, lossScale: 1 / Float(items.count),
                                                           workspace: Workspace())
                losses.append(Float(step.loss / Double(items.count)))
                adam.step(parameters, learningRate: lr)
            }
            let reference = try c.reference.floats("losses")
            XCTAssertLessThanOrEqual(maxAbsDifference(losses, reference), 1e-4, "\(name): losses \(losses), PyTorch \(reference)")
            print("\(name): five steps, max |loss - PyTorch's| = \(maxAbsDifference(losses, reference))")
        }
    }

    func testMultiStepScheduleDecaysAtEachMilestone() {
        let s = MultiStepSchedule(initialRate: 1e-3)
        XCTAssertEqual(s.learningRate(afterEpochs: 0), 1e-3)
        XCTAssertEqual(s.learningRate(afterEpochs: 4), 1e-3)
        XCTAssertEqual(s.learningRate(afterEpochs: 5), 1e-3 * 0.85)
        XCTAssertEqual(s.learningRate(afterEpochs: 6), 1e-3 * 0.85 * 0.85)
        // 21 milestones (5...25), then constant: 0.85^21 ≈ 0.033 of the initial rate (docs/ipet-method.md §5).
        XCTAssertEqual(s.learningRate(afterEpochs: 25) / 1e-3, 0.0329456, accuracy: 1e-7)
        XCTAssertEqual(s.learningRate(afterEpochs: 30), s.learningRate(afterEpochs: 25))
    }
}
