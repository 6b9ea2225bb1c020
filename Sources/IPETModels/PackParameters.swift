import Foundation
import IPETFormats
import IPETTensor

/// The trainable tensors of an IPET pack (prompts, adapters, head; named as in `Formats/ipet-pack.md`) with their
/// gradients. The model's views of them (`adaptations`, `head`) share the same storage, so an optimiser that updates
/// `values` in place updates the model.
public final class PackParameters: @unchecked Sendable {
    public let layout: PackLayout
    /// Tensor names in pack order.
    public let names: [String]
    public let values: [String: Tensor]
    /// `∂loss/∂value` by name, summed since `zeroGradients`.
    public let gradients: [String: Tensor]
    /// Per layer prompts and adapters, for the models' forward.
    public let adaptations: [LayerAdaptation]
    public let head: TaskHead
    let adaptationGradients: [LayerAdaptation.Gradient]
    let headGradient: TaskHead.Gradient

    /// Parameters holding copies of `values` (every tensor the layout implies, with its shape, and nothing else).
    public init(layout: PackLayout, values given: [String: Tensor], source: String) throws(ModelError) {
        try layout.validate(source: source)
        var values: [String: Tensor] = [:], gradients: [String: Tensor] = [:]
        for (name, shape) in layout.tensorShapes {
            guard let t = given[name] else { throw ModelError(source, "missing tensor \"\(name)\" (expected shape \(shape))") }
            guard t.shape == shape else { throw ModelError(source, "tensor \"\(name)\" has shape \(t.shape), expected \(shape)") }
            values[name] = t.copy()
            gradients[name] = Tensor(zeros: shape)
        }
        if let extra = given.keys.filter({ values[$0] == nil }).sorted().first {
            throw ModelError(source, "unexpected tensor \"\(extra)\" for this pack layout")
        }
        self.layout = layout
        names = layout.tensorShapes.map(\.name)
        self.values = values
        self.gradients = gradients
        func linear(_ prefix: String, in t: [String: Tensor]) -> Linear { Linear(weight: t[prefix + ".weight"]!, bias: t[prefix + ".bias"]) }
        func linearGradient(_ prefix: String) -> Linear.Gradient {
            Linear.Gradient(weight: gradients[prefix + ".weight"]!, bias: gradients[prefix + ".bias"])
        }
        var adaptations: [LayerAdaptation] = [], adaptationGradients: [LayerAdaptation.Gradient] = []
        for l in 0..<layout.layers {
            var a = LayerAdaptation(prompts: values["prompts.\(l)"])
            var g = LayerAdaptation.Gradient(prompts: gradients["prompts.\(l)"])
            if layout.bottleneck > 0 {
                a.adapter = BottleneckAdapter(down: linear("adapters.\(l).down", in: values), up: linear("adapters.\(l).up", in: values),
                                              scale: layout.adapterScale, addResidual: layout.adapterResidual)
                g.adapter = BottleneckAdapter.Gradient(down: linearGradient("adapters.\(l).down"), up: linearGradient("adapters.\(l).up"))
            }
            adaptations.append(a)
            adaptationGradients.append(g)
        }
        self.adaptations = adaptations
        self.adaptationGradients = adaptationGradients
        let norm = LayerNorm(weight: values["head.norm.weight"]!, bias: values["head.norm.bias"]!, eps: layout.headLayerNormEps)
        let classifier = linear("head.linear", in: values)
        head = TaskHead(source: source, pooling: layout.pooling, layers: layout.head == .speaker
            ? .speaker(embedding: linear("head.embedding", in: values), classifier: (norm, classifier))
            : .linear(norm: norm, linear: classifier))
        headGradient = TaskHead.Gradient(
            embedding: layout.head == .speaker ? linearGradient("head.embedding") : nil,
            norm: LayerNorm.Gradient(weight: gradients["head.norm.weight"]!, bias: gradients["head.norm.bias"]!),
            linear: linearGradient("head.linear"))
    }

    /// Parameters holding copies of a pack's tensors (to continue training it, or to check gradients from it).
    public convenience init(pack: AdapterPack) throws {
        guard [.astPooled, .meanStd, .speaker].contains(pack.head.type), pack.taskHead.classCount > 0 else {
            throw ModelError(pack.path, "only IPET's classifier heads (ast-pooled, mean-std, speaker with a classifier) can be trained")
        }
        let layout = PackLayout(
            architecture: pack.backbone.architecture, hiddenSize: pack.backbone.hiddenSize, layers: pack.backbone.layers,
            promptTokens: pack.config.promptTokens, bottleneck: pack.config.adapterBottleneck, adapterScale: pack.config.adapterScale,
            adapterResidual: pack.config.adapterResidual, head: pack.head.type, classes: pack.taskHead.classCount,
            embeddingDimension: pack.taskHead.embeddingDimension ?? 128, headLayerNormEps: pack.head.layerNormEps)
        let file = try SafeTensorsFile(path: pack.path)
        var values: [String: Tensor] = [:]
        for info in file.tensors where !info.name.hasPrefix("override.") { values[info.name] = try Tensor.load(info, from: file) }
        try self.init(layout: layout, values: values, source: pack.path)
    }

    /// Fresh parameters initialised as IPET's code does (`docs/ipet-method.md` §1–2), drawing from `generator` in a fixed
    /// order (prompts layer by layer, adapters layer by layer, the head):
    ///
    /// - prompts: `xavier_uniform_` on the `(1, k, D)` tensor, U(±√(6 / (D·(k + 1))));
    /// - adapter down weight `kaiming_uniform_(a = √5)` = U(±1/√D), down bias, up weight and up bias 0;
    /// - head Linear layers PyTorch's default, weight and bias U(±1/√fan_in); head LayerNorm weight 1, bias 0.
    public static func initialised(_ layout: PackLayout, source: String, generator: inout SeededRandomGenerator) throws(ModelError)
        -> PackParameters
    {
        let shapes = Dictionary(uniqueKeysWithValues: layout.tensorShapes.map { ($0.name, $0.shape) })
        let values = shapes.mapValues { Tensor(zeros: $0) }
        func uniform(_ name: String, bound: Float) {
            let t = values[name]!.mutableData
            for i in 0..<values[name]!.count { t[i] = generator.uniform(-bound, bound) }
        }
        let d = Float(layout.hiddenSize)
        for l in 0..<layout.layers where layout.promptTokens > 0 {
            uniform("prompts.\(l)", bound: (6 / (d * Float(layout.promptTokens + 1))).squareRoot())
        }
        for l in 0..<layout.layers where layout.bottleneck > 0 { uniform("adapters.\(l).down.weight", bound: 1 / d.squareRoot()) }
        for prefix in ["head.embedding", "head.linear"] where shapes[prefix + ".weight"] != nil {
            let bound = 1 / Float(shapes[prefix + ".weight"]![1]).squareRoot()
            uniform(prefix + ".weight", bound: bound)
            uniform(prefix + ".bias", bound: bound)
        }
        values["head.norm.weight"]!.mutableData.update(repeating: 1, count: values["head.norm.weight"]!.count)
        return try PackParameters(layout: layout, values: values, source: source)
    }

    /// Sets every gradient to 0 (before a step).
    public func zeroGradients() {
        for g in gradients.values { g.mutableData.update(repeating: 0, count: g.count) }
    }

    /// Copies of the current values (e.g. the best epoch's).
    public func snapshot() -> [String: Tensor] { values.mapValues { $0.copy() } }

    /// Overwrites the values with `snapshot`'s (same names and shapes).
    public func restore(_ snapshot: [String: Tensor]) {
        for (name, t) in values { t.mutableData.update(from: snapshot[name]!.data, count: t.count) }
        valuesChanged()
    }

    /// Call after writing into `values` directly: the GEMM keeps packed copies of weights, which must be dropped
    /// (`Gemm.weightsChanged`) so the next forward multiplies by the new values.
    public func valuesChanged() {
        for t in values.values { Gemm.weightsChanged(t) }
    }
}
