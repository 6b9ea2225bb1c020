import IPETFormats
import IPETModels

/// How a pack is trained. The defaults are IPET's recipe as `tools/train_ipet.py` runs it (`docs/ipet-method.md` §5):
/// k 4 prompts per layer, adapters of bottleneck 32 with scale 0.1 and dropout 0.1, Adam (0.95, 0.999) with weight decay
/// 5e-7 at lr 1e-3, MultiStepLR γ 0.85 at epochs 5…25, 30 epochs of batch 8, seed 1234; AST features normalised with
/// the training data's fbank statistics.
public struct TrainingRecipe: Sendable, Equatable {
    /// Where the AST fbank normalisation (mean, std) comes from.
    public enum Statistics: String, Sendable {
        /// Mean and standard deviation of every fbank value of the training clips (before padding), as the AST recipe.
        case data
        /// The backbone's `preprocessor_config.json`.
        case backbone
    }

    public var promptTokens = 4
    public var bottleneck = 32
    public var adapterScale = 0.1
    /// The official wav2vec 2.0 code's adapter residual (post-LN wav2vec 2.0 only).
    public var adapterResidual = false
    public var adapterDropout = 0.1
    /// `ast-pooled`, `mean-std` or `speaker`; nil = the backbone's own (`ast-pooled` for AST, `mean-std` for wav2vec 2.0).
    public var head: AdapterPack.HeadType?
    /// The speaker head's embedding size.
    public var embeddingDimension = 128
    public var epochs = 30
    public var batchSize = 8
    public var learningRate = 1e-3
    public var adam = Adam.Settings()
    public var milestones = Array(5...25)
    public var gamma = 0.85
    public var seed: UInt64 = 1234
    /// AST input frames (nil: the backbone's `max_length`).
    public var maxLength: Int?
    /// wav2vec 2.0 training crop in samples: random crops in training (wrap-padded when shorter), whole clips for
    /// validation. nil: whole clips throughout.
    public var cropSamples: Int?
    /// AST SpecAugment in training: one frequency mask narrower than `specAugmentFrequency` bins and one time mask
    /// narrower than `specAugmentTime` frames per example, set to 0 on the normalised features (0: off).
    public var specAugmentFrequency = 0
    public var specAugmentTime = 0
    /// AST in training: shift each example's mel axis by a random whole number of bins up to this (vacated bins 0;
    /// the demo's recipe, not IPET's). 0: off.
    public var melShift = 0
    public var statistics = Statistics.data
    /// Stratified share of the training data held out for validation when no validation set is given.
    public var validationFraction = 0.0

    public init() {}

    /// Whether any layer is adapted (else only the head is trained).
    public var adaptsLayers: Bool { promptTokens > 0 || bottleneck > 0 }

    /// Refuses values that cannot train, naming `source` (the run) and never a command-line option.
    public func validate(source: String) throws(EngineError) {
        func check(_ ok: Bool, _ message: String) throws(EngineError) { if !ok { throw EngineError(path: source, message) } }
        try check(promptTokens >= 0 && promptTokens <= AdapterPack.maximumPromptTokens, "prompt tokens must be 0 to \(AdapterPack.maximumPromptTokens)")
        try check(bottleneck >= 0 && bottleneck <= AdapterPack.maximumBottleneck, "the adapter bottleneck must be 0 to \(AdapterPack.maximumBottleneck)")
        try check(adapterScale.isFinite, "the adapter scale must be a finite number")
        try check(adapterDropout >= 0 && adapterDropout < 1, "adapter dropout must be at least 0 and below 1")
        try check(embeddingDimension >= 1, "the speaker embedding needs at least one dimension")
        try check(epochs >= 1, "training needs at least one epoch")
        try check(batchSize >= 1, "the batch size must be at least 1")
        try check(learningRate.isFinite && learningRate > 0, "the learning rate must be a positive number")
        try check(gamma.isFinite && gamma > 0, "the learning-rate decay must be a positive number")
        try check(adam.beta1 >= 0 && adam.beta1 < 1 && adam.beta2 >= 0 && adam.beta2 < 1 && adam.eps > 0 && adam.weightDecay >= 0,
                  "Adam needs betas in [0, 1), a positive eps and a weight decay of at least 0")
        try check(specAugmentFrequency >= 0 && specAugmentTime >= 0 && melShift >= 0, "augmentation widths must not be negative")
        try check(validationFraction >= 0 && validationFraction < 1, "the validation share must be at least 0 and below 1")
        if let maxLength { try check((16...AdapterPack.maximumFrames).contains(maxLength), "the input length must be 16 to \(AdapterPack.maximumFrames) frames") }
        if let cropSamples { try check((400...AdapterPack.maximumCropSamples).contains(cropSamples), "the crop must be 400 to \(AdapterPack.maximumCropSamples) samples") }
    }

    /// The recipe as JSON: recorded in the pack's provenance and in checkpoints (a resumed run must have the same).
    public var json: JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("prompt_tokens", .int(promptTokens)), ("adapter_bottleneck", .int(bottleneck)), ("adapter_scale", .double(adapterScale)),
            ("adapter_residual", .bool(adapterResidual)), ("adapter_dropout", .double(adapterDropout)),
            ("head", head.map { .string($0.rawValue) } ?? .null), ("embedding_dim", .int(embeddingDimension)),
            ("epochs", .int(epochs)), ("batch_size", .int(batchSize)),
            ("optimizer", .object([("name", .string("Adam")), ("lr", .double(learningRate)),
                                   ("betas", .array([.double(adam.beta1), .double(adam.beta2)])), ("eps", .double(adam.eps)),
                                   ("weight_decay", .double(adam.weightDecay))])),
            ("schedule", .object([("name", .string("MultiStepLR")), ("milestones", .array(milestones.map { .int($0) })),
                                  ("gamma", .double(gamma))])),
            ("seed", .integer(.nonNegative(seed))), ("loss", .string("cross-entropy")),
        ]
        if let maxLength { members.append(("max_length", .int(maxLength))) }
        if let cropSamples { members.append(("crop_samples", .int(cropSamples))) }
        members.append(("specaugment", .array([.int(specAugmentFrequency), .int(specAugmentTime)])))
        if melShift > 0 { members.append(("mel_shift", .int(melShift))) }
        members += [("feature_statistics", .string(statistics.rawValue)), ("validation_fraction", .double(validationFraction))]
        return .object(members)
    }
}
