import Foundation
import IPETAudio
import IPETFormats
import IPETModels
import IPETTensor
import Logging

/// Trains an IPET pack on a frozen backbone (`docs/ipet-method.md` §5) and writes it: the training loop around the
/// models layer's `PackTrainingModel` (forward, loss, backward), `Adam` and `MultiStepSchedule`.
///
/// One epoch: the training clips in an order shuffled by the run's seeded generator, batches of `batchSize`, each
/// example's frozen features (cached across epochs when its input does not change: no SpecAugment, no random crop),
/// adapter dropout with seeds from the generator, one Adam step per batch; then validation (no dropout, no
/// augmentation), and a checkpoint. The pack holds the best validation epoch's parameters (highest accuracy, then
/// lowest loss), or the last epoch's without validation data, and records its provenance (data fingerprint, recipe,
/// epochs, metrics; no dates or timings, so a resumed run writes the same bytes as an uninterrupted one).
public final class PackTrainer {
    /// What to do with a file that cannot be used (undecodable, too short for the model).
    public enum BadFiles: String, Sendable {
        case fail
        case skip
    }

    public struct Options: Sendable {
        public var recipe: TrainingRecipe
        public var badFiles = BadFiles.fail
        /// Continue from the checkpoint when one exists (else start afresh).
        public var resume = false
        /// How the pack stores its tensors: F32, F16 or BF16.
        public var dtype = DType.f32
        /// `ipet.backbone.name` in the pack (default: the backbone's path).
        public var backboneName: String?
        /// The checkpoint file (default: the output path + ".checkpoint").
        public var checkpoint: String?
        /// Keep every example's frozen features between epochs when its input does not change.
        public var cacheFrozenFeatures = true
        /// Examples per validation batch.
        public var validationBatchSize = 16

        public init(recipe: TrainingRecipe = TrainingRecipe()) { self.recipe = recipe }
    }

    public struct Result: Sendable {
        public let pack: AdapterPack
        /// Every epoch, restored ones included.
        public let epochs: [TrainingEpoch]
        /// The epoch whose parameters the pack holds (1-based).
        public let chosenEpoch: Int
        /// Epochs that were restored from a checkpoint rather than run.
        public let resumedEpochs: Int
        public let trainClips: Int
        public let validationClips: Int
        /// Files left out, with why.
        public let skipped: [EngineError]
        public let dataFingerprint: String
    }

    public let backbone: Backbone
    public let train: TrainingSet
    public let validation: TrainingSet?
    public let options: Options

    static let logger = Logger(label: "ipet.engine")

    /// `validation`: labelled held-out data with the training classes (or nil: the recipe's validation share of
    /// `train`, or no validation).
    public init(backbone: Backbone, train: TrainingSet, validation: TrainingSet? = nil, options: Options) {
        self.backbone = backbone
        self.train = train
        self.validation = validation
        self.options = options
    }

    /// Trains and writes the pack to `output`. `progress` is called after every epoch this call runs, once its
    /// checkpoint is written; an error it throws stops the run there (the checkpoint stays, to resume from).
    public func run(output: String, progress: (TrainingEpoch) throws -> Void = { _ in }) throws -> Result {
        var recipe = options.recipe
        try recipe.validate(source: output)
        recipe.head = recipe.head ?? (backbone.architecture == .ast ? .astPooled : .meanStd)
        var generator = SeededRandomGenerator(seed: recipe.seed)
        var trainSet = train, validationSet = validation
        var validationSource = validation?.source
        if validationSet == nil, recipe.validationFraction > 0 {
            let parts = train.split(validationFraction: recipe.validationFraction, generator: &generator)
            (trainSet, validationSet) = (parts.train, parts.validation.items.isEmpty ? nil : parts.validation)
            validationSource = validationSet == nil ? nil : "\(recipe.validationFraction) stratified hold-out of \(train.source)"
        }
        let task = try TrainingPreprocessing(backbone: backbone, recipe: recipe, source: backbone.source)
        let layout = PackLayout(
            architecture: backbone.architecture, hiddenSize: backbone.sizes.0, layers: backbone.sizes.1, promptTokens: recipe.promptTokens,
            bottleneck: recipe.bottleneck, adapterScale: Float(recipe.adapterScale), adapterResidual: recipe.adapterResidual,
            head: recipe.head!, classes: train.classes.count,
            embeddingDimension: recipe.embeddingDimension)
        try layout.validate(source: backbone.source)
        let skip = options.badFiles == .skip
        let trainClips = try TrainingClips(trainSet, backbone: backbone, spectrogram: task.spectrogram, cropSamples: recipe.cropSamples,
                                           skipBadFiles: skip)
        let validationClips = try validationSet.map {
            try TrainingClips($0, backbone: backbone, spectrogram: task.spectrogram, cropSamples: recipe.cropSamples, skipBadFiles: skip)
        }
        let present = Set(trainClips.clips.map(\.label))
        guard present.count >= 2 else {
            throw EngineError(path: train.source, "fewer than two classes have usable audio (\(present.count)); a classifier needs at least two")
        }
        let spectrogram = try task.finishFeatures(train: trainClips, validation: validationClips)
        let dataFingerprint = Self.fingerprint(classes: train.classes, train: trainClips, validation: validationClips)

        let settings = JSONValue.object([
            ("backbone", .string(backbone.fingerprint)), ("data", .string(dataFingerprint)),
            ("classes", .array(train.classes.map(JSONValue.string))), ("recipe", recipe.json),
            ("preprocessing", .object(task.preprocessing(spectrogram))),
        ])
        let parameters = try PackParameters.initialised(layout, source: output, generator: &generator)
        let model = try PackTrainingModel(backbone: task.model, parameters: parameters, source: output)
        var adam = Adam(settings: recipe.adam, shapes: layout.tensorShapes)
        var history: [TrainingEpoch] = []
        var best: (epoch: Int, values: [String: Tensor])?
        let checkpointPath = options.checkpoint ?? output + ".checkpoint"
        if options.resume, FileManager.default.fileExists(atPath: checkpointPath) {
            let saved = try TrainingCheckpoint.read(checkpointPath)
            try Self.check(saved.settings, against: settings, checkpoint: checkpointPath)
            guard Self.fits(saved.values, layout), Self.fits(saved.firstMoments, layout), Self.fits(saved.secondMoments, layout),
                  saved.best.map({ Self.fits($0, layout) }) ?? true, let state = SeededRandomGenerator(state: saved.generatorState)
            else { throw EngineError(path: checkpointPath, "the checkpoint's tensors do not fit this pack", remedy: .startAfresh) }
            parameters.restore(saved.values)
            adam = Adam(settings: recipe.adam, steps: saved.adamSteps, firstMoments: saved.firstMoments, secondMoments: saved.secondMoments)
            generator = state
            history = saved.epochs
            if let epoch = saved.bestEpoch, let values = saved.best { best = (epoch, values) }
            Self.logger.info("resuming \(output) after epoch \(history.count) of \(recipe.epochs) (\(checkpointPath))")
        }
        let resumed = history.count

        let loop = TrainingLoop(model: model, recipe: recipe, cache: options.cacheFrozenFeatures, validationBatch: options.validationBatchSize)
        try loop.prepare(trainClips, training: true)
        if let validationClips { try loop.prepare(validationClips, training: false) }
        let schedule = MultiStepSchedule(initialRate: recipe.learningRate, milestones: recipe.milestones, gamma: recipe.gamma)
        for epoch in history.count..<recipe.epochs {
            let started = DispatchTime.now().uptimeNanoseconds
            let rate = schedule.learningRate(afterEpochs: epoch)
            let (loss, accuracy) = try loop.trainEpoch(trainClips, adam: adam, learningRate: rate, generator: &generator)
            let validated = try validationClips.map { try loop.evaluate($0) }
            let record = TrainingEpoch(epoch: epoch + 1, learningRate: rate, trainLoss: loss, trainAccuracy: accuracy,
                                       validationLoss: validated?.loss, validationAccuracy: validated?.accuracy,
                                       seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
            if validated != nil, best.map({ record.isBetterOnValidation(than: history[$0.epoch - 1]) }) ?? true {
                best = (record.epoch, parameters.snapshot())
            }
            history.append(record)
            try TrainingCheckpoint(settings: settings, epochs: history, bestEpoch: best?.epoch, generatorState: generator.state,
                                   adamSteps: adam.steps, values: parameters.values, firstMoments: adam.firstMoments,
                                   secondMoments: adam.secondMoments, best: best?.values).write(to: checkpointPath)
            try progress(record)
        }

        let chosen = best?.epoch ?? history.count
        if let best { parameters.restore(best.values) }
        let provenance = Self.provenance(recipe: recipe, train: train, validationSource: validationSource, classes: train.classes,
                                         trainClips: trainClips, validationClips: validationClips, dataFingerprint: dataFingerprint,
                                         history: history, chosen: chosen, byValidation: best != nil)
        let writer = AdapterPackWriter(
            backbone: backbone, backboneName: options.backboneName ?? backbone.source, promptTokens: layout.promptTokens,
            bottleneck: layout.bottleneck, adapterScale: recipe.adapterScale, adapterResidual: layout.adapterResidual,
            head: AdapterPackWriter.head(layout.head, labels: train.classes, pooling: layout.pooling,
                                         embeddingDimension: layout.head == .speaker ? layout.embeddingDimension : nil),
            preprocessing: task.preprocessing(spectrogram), provenance: provenance, dtype: options.dtype)
        let pack = try writer.write(parameters.names.map { (name: $0, tensor: parameters.values[$0]!) }, to: output)
        unlink(checkpointPath)
        return Result(pack: pack, epochs: history, chosenEpoch: chosen, resumedEpochs: resumed, trainClips: trainClips.clips.count,
                      validationClips: validationClips?.clips.count ?? 0, skipped: trainClips.skipped + (validationClips?.skipped ?? []),
                      dataFingerprint: dataFingerprint)
    }

    /// SHA-256 over the class names and every clip (name, class, samples' digest), training then validation.
    static func fingerprint(classes: [String], train: TrainingClips, validation: TrainingClips?) -> String {
        let hasher = SHA256Hasher()
        hasher.update(lengthPrefixed: "ipet-training-data-v1")
        hasher.update(u64: UInt64(classes.count))
        for c in classes { hasher.update(lengthPrefixed: c) }
        train.fingerprint(into: hasher, classes: classes)
        if let validation { validation.fingerprint(into: hasher, classes: classes) } else { hasher.update(u64: 0) }
        return hasher.finalizeText()
    }

    static func fits(_ tensors: [String: Tensor], _ layout: PackLayout) -> Bool {
        tensors.count == layout.tensorShapes.count && layout.tensorShapes.allSatisfy { tensors[$0.name]?.shape == $0.shape }
    }

    /// A checkpoint continues only the run it was made by: same backbone, data and settings; what differs is named.
    static func check(_ saved: JSONValue, against current: JSONValue, checkpoint: String) throws {
        guard saved != current else { return }
        let reason: String
        if saved["backbone"] != current["backbone"] {
            reason = "it was made with the backbone \(saved["backbone"]?.string ?? "?"), not this one (\(current["backbone"]?.string ?? "?"))"
        } else if saved["data"] != current["data"] {
            reason = "it was made from other training data (fingerprint \(saved["data"]?.string ?? "?"), now \(current["data"]?.string ?? "?"))"
        } else {
            let keys = ["classes", "recipe", "preprocessing"].filter { saved[$0] != current[$0] }
            reason = "it was made with other \(keys.joined(separator: " and ")) (\(keys.map { "\(saved[$0]?.compactText ?? "none") → \(current[$0]?.compactText ?? "none")" }.joined(separator: "; ")))"
        }
        throw EngineError(path: checkpoint, "cannot continue this training run: \(reason)", remedy: .startAfresh)
    }

    static func provenance(recipe: TrainingRecipe, train: TrainingSet, validationSource: String?, classes: [String], trainClips: TrainingClips,
                           validationClips: TrainingClips?, dataFingerprint: String, history: [TrainingEpoch], chosen: Int,
                           byValidation: Bool) -> JSONValue {
        let skipped = trainClips.skipped + (validationClips?.skipped ?? [])
        let data = JSONValue.object([
            ("fingerprint", .string(dataFingerprint)), ("train", .string(train.source)), ("validation", validationSource.map(JSONValue.string) ?? .null),
            ("classes", .array(classes.map(JSONValue.string))), ("train_clips", .int(trainClips.clips.count)),
            ("val_clips", .int(validationClips?.clips.count ?? 0)), ("skipped", .array(skipped.map { .string($0.description) })),
        ])
        let final = history[chosen - 1].json(withSeconds: false)
        return .object([
            ("trainer", .string("ipet train \(IPETVersion.string)")), ("data", data), ("recipe", recipe.json), ("epochs", .int(history.count)),
            ("chosen_epoch", .int(chosen)), ("chosen_by", .string(byValidation ? "validation accuracy, then loss" : "last epoch")),
            ("metrics", final), ("history", .array(history.map { $0.json(withSeconds: false) })),
        ])
    }
}
