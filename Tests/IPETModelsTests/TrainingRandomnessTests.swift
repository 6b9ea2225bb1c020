import IPETFormats
import IPETModels
import IPETTensor
import IPETTestSupport
import XCTest

/// The random parts of training, which cannot match PyTorch's random stream and are checked by their properties:
/// the seeded generator, dropout's statistics and its consistency between forward and backward, and the
/// initialisation bounds of docs/ipet-method.md.
final class TrainingRandomnessTests: XCTestCase {
    override func setUp() { ComputeThreads.configure(2) }

    func testGeneratorIsDeterministicAndRestorable() {
        var a = SeededRandomGenerator(seed: 1234), b = SeededRandomGenerator(seed: 1234)
        let first = (0..<5).map { _ in a.next() }
        XCTAssertEqual(first, (0..<5).map { _ in b.next() })
        var c = SeededRandomGenerator(state: a.state)!
        XCTAssertEqual(a.next(), c.next())
        XCTAssertNotEqual(SeededRandomGenerator(seed: 1235).state, SeededRandomGenerator(seed: 1234).state)
        XCTAssertNil(SeededRandomGenerator(state: [0, 0, 0, 0]))
    }

    func testDrawsStayInRangeAndPermutationsArePermutations() {
        var g = SeededRandomGenerator(seed: 7)
        for _ in 0..<10_000 {
            let u = g.uniform()
            XCTAssert(u >= 0 && u < 1)
            XCTAssert((0..<3).contains(g.integer(below: 3)))
        }
        XCTAssertEqual(g.permutation(100).sorted(), Array(0..<100))
    }

    /// p = 0.1 over 200 000 elements: the kept fraction is 0.9 within 5 standard deviations (0.0034), every kept value
    /// is exactly x/(1 − p) as nn.Dropout scales it, and the same seed draws the same mask.
    func testDropoutKeepsNinetyPercentScaledByOneOverOneMinusP() {
        let n = 200_000
        let dropout = AdapterDropout(probability: 0.1, seed: 42)
        let x = Tensor(shape: [n], values: Array(repeating: 2, count: n))
        dropout.apply(x.mutableData, count: n)
        let kept = x.array.filter { $0 != 0 }
        XCTAssertEqual(Double(kept.count) / Double(n), 0.9, accuracy: 0.0034)
        XCTAssertTrue(kept.allSatisfy { $0 == 2 * (1 / Float(0.9)) })
        let again = Tensor(shape: [n], values: Array(repeating: 2, count: n))
        dropout.apply(again.mutableData, count: n)
        XCTAssertEqual(again.array, x.array)
        let other = Tensor(shape: [n], values: Array(repeating: 2, count: n))
        AdapterDropout(probability: 0.1, seed: 43).apply(other.mutableData, count: n)
        XCTAssertNotEqual(other.array, x.array)
    }

    /// With dropout on, the gradient must be that of the loss the forward computed with the same masks: the loss
    /// change along the gradient, (L(θ + εg) − L(θ − εg)) / 2ε, equals |g|² within 1 % (float32, ε small).
    func testGradientWithDropoutIsTheDerivativeOfTheDroppedOutLoss() throws {
        let c = try TrainingGradientTests.load("ast-pooled")
        let parameters = c.model.parameters
        let dropouts = (0..<parameters.layout.layers).map { AdapterDropout(probability: 0.5, seed: UInt64(100 + $0)) }
        let workspace = Workspace()
        func loss() throws -> Double {
            try c.model.accumulateGradients(c.features, labels: c.labels, lossScale: 0, dropouts: dropouts, workspace: workspace).loss
                / Double(c.labels.count)
        }
        parameters.zeroGradients()
        _ = try c.model.accumulateGradients(c.features, labels: c.labels, lossScale: 1 / Float(c.labels.count), dropouts: dropouts,
                                           workspace: workspace)
        let gradient = parameters.names.map { parameters.gradients[$0]!.array }
        let squaredNorm = gradient.joined().reduce(0.0) { $0 + Double($1) * Double($1) }
        let original = parameters.snapshot()
        let epsilon: Float = 1e-2 / Float(squaredNorm.squareRoot())
        func shift(_ sign: Float) {
            parameters.restore(original)
            for (name, g) in zip(parameters.names, gradient) {
                let p = parameters.values[name]!.mutableData
                for i in g.indices { p[i] += sign * epsilon * g[i] }
            }
            parameters.valuesChanged()
        }
        shift(1)
        let up = try loss()
        shift(-1)
        let down = try loss()
        parameters.restore(original)
        let slope = (up - down) / (2 * Double(epsilon))
        XCTAssertEqual(slope / squaredNorm, 1, accuracy: 0.01, "directional derivative \(slope), |g|² \(squaredNorm)")
    }

    func testInitialisationFollowsIPETsBounds() throws {
        let layout = PackLayout(architecture: .ast, hiddenSize: 96, layers: 2, promptTokens: 4, bottleneck: 8, head: .astPooled, classes: 5)
        var generator = SeededRandomGenerator(seed: 1234)
        let p = try PackParameters.initialised(layout, source: "test", generator: &generator)
        func range(_ name: String) -> (Float, Float) { (p.values[name]!.array.min()!, p.values[name]!.array.max()!) }
        let promptBound = (6 / Float(96 * 5)).squareRoot()  // xavier on (1, k, D): √(6 / (D (k + 1)))
        XCTAssertLessThanOrEqual(max(-range("prompts.1").0, range("prompts.1").1), promptBound)
        XCTAssertGreaterThan(range("prompts.1").1, 0.8 * promptBound)
        XCTAssertLessThanOrEqual(max(-range("adapters.0.down.weight").0, range("adapters.0.down.weight").1), 1 / Float(96).squareRoot())
        for zero in ["adapters.0.down.bias", "adapters.0.up.weight", "adapters.0.up.bias", "head.norm.bias"] {
            XCTAssertEqual(range(zero).0, 0, zero)
            XCTAssertEqual(range(zero).1, 0, zero)
        }
        XCTAssertEqual(range("head.norm.weight").0, 1)
        XCTAssertLessThanOrEqual(max(-range("head.linear.bias").0, range("head.linear.bias").1), 1 / Float(96).squareRoot())
        XCTAssertEqual(p.names, layout.tensorShapes.map(\.name))
    }
}
