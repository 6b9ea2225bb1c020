/// What a trainable IPET pack holds (`Formats/ipet-pack.md`): its backbone's sizes, prompts, adapters and head, and so
/// every tensor it implies with its shape.
public struct PackLayout: Sendable, Equatable {
    public var architecture: Architecture
    public var hiddenSize: Int
    public var layers: Int
    public var promptTokens: Int
    public var bottleneck: Int
    public var adapterScale: Float
    /// The official wav2vec 2.0 code's adapter residual (`docs/ipet-method.md` §2, quirk 1).
    public var adapterResidual: Bool
    /// `ast-pooled`, `mean-std` or `speaker` (with a classifier): the heads IPET trains.
    public var head: AdapterPack.HeadType
    public var classes: Int
    /// The speaker head's embedding size (IPET: 128); unused by the other heads.
    public var embeddingDimension: Int
    public var headLayerNormEps: Float

    public init(architecture: Architecture, hiddenSize: Int, layers: Int, promptTokens: Int, bottleneck: Int, adapterScale: Float = 0.1,
                adapterResidual: Bool = false, head: AdapterPack.HeadType, classes: Int, embeddingDimension: Int = 128,
                headLayerNormEps: Float = 1e-5) {
        self.architecture = architecture
        self.hiddenSize = hiddenSize
        self.layers = layers
        self.promptTokens = promptTokens
        self.bottleneck = bottleneck
        self.adapterScale = adapterScale
        self.adapterResidual = adapterResidual
        self.head = head
        self.classes = classes
        self.embeddingDimension = embeddingDimension
        self.headLayerNormEps = headLayerNormEps
    }

    /// The pooling IPET's heads use on this architecture.
    public var pooling: TaskHead.Pooling { .native(to: architecture) }

    /// Whether any layer has prompts or an adapter (else only the head is trained, on the frozen model's output).
    public var adaptsLayers: Bool { promptTokens > 0 || bottleneck > 0 }

    /// Every tensor the pack holds, sorted by name (UTF-8 byte order, as packs store them).
    public var tensorShapes: [(name: String, shape: [Int])] {
        let d = hiddenSize, width = pooling.width(hidden: d)
        var out: [(String, [Int])] = []
        for l in 0..<layers {
            if promptTokens > 0 { out.append(("prompts.\(l)", [promptTokens, d])) }
            if bottleneck > 0 {
                out += [("adapters.\(l).down.weight", [bottleneck, d]), ("adapters.\(l).down.bias", [bottleneck]),
                        ("adapters.\(l).up.weight", [d, bottleneck]), ("adapters.\(l).up.bias", [d])]
            }
        }
        let classifierInput = head == .speaker ? embeddingDimension : width
        if head == .speaker {
            out += [("head.embedding.weight", [embeddingDimension, width]), ("head.embedding.bias", [embeddingDimension])]
        }
        out += [("head.norm.weight", [classifierInput]), ("head.norm.bias", [classifierInput]),
                ("head.linear.weight", [classes, classifierInput]), ("head.linear.bias", [classes])]
        return out.sorted { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
    }

    /// Refuses what IPET's trainer cannot build, naming `source` (the pack or the training run).
    public func validate(source: String) throws(ModelError) {
        guard [.astPooled, .meanStd, .speaker].contains(head) else {
            throw ModelError(source, "head \(head.rawValue) cannot be trained; IPET trains ast-pooled, mean-std and speaker heads")
        }
        if head != .speaker, (head == .astPooled ? TaskHead.Pooling.astPooled : .meanStd) != pooling {
            throw ModelError(source, "head \(head.rawValue) does not fit this backbone (\(architecture.rawValue)); use \(pooling.rawValue) or speaker")
        }
        guard classes >= 1 else { throw ModelError(source, "the head needs at least one class") }
        guard promptTokens >= 0, bottleneck >= 0, embeddingDimension >= 1 else {
            throw ModelError(source, "prompt tokens and bottleneck must not be negative, the embedding size must be positive")
        }
        if adapterResidual {
            guard architecture == .wav2vec2, bottleneck > 0 else {
                throw ModelError(source, "the adapter residual exists only for wav2vec 2.0 adapters (the official code's quirk)")
            }
        }
    }
}
