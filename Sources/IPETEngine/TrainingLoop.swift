import IPETFormats
import IPETModels
import IPETTensor

/// The batches of one epoch and the validation pass, on clips whose inputs `TrainingPreprocessing` fixed.
final class TrainingLoop {
    let model: PackTrainingModel
    let recipe: TrainingRecipe
    let augment: SpectrogramAugmentation
    let cache: Bool
    let validationBatch: Int
    let workspace = Workspace()

    init(model: PackTrainingModel, recipe: TrainingRecipe, cache: Bool, validationBatch: Int) {
        self.model = model
        self.recipe = recipe
        augment = SpectrogramAugmentation(frequencyMask: recipe.specAugmentFrequency, timeMask: recipe.specAugmentTime,
                                          melShift: recipe.melShift)
        self.cache = cache
        self.validationBatch = max(1, validationBatch)
    }

    /// Computes and keeps the frozen features of every clip whose input is the same each epoch (validation clips
    /// always; training clips unless augmentation or a random crop changes them), freeing the input they came from.
    func prepare(_ clips: TrainingClips, training: Bool) throws {
        guard cache, !(training && augment.isActive) else { return }
        for i in clips.clips.indices where clips.clips[i].input != nil {
            var unused = SeededRandomGenerator(seed: 0)
            clips.clips[i].frozen = try frozen(clips.clips[i], training: false, generator: &unused)
            clips.clips[i].input = nil
            clips.clips[i].samples = []
        }
    }

    /// One example's frozen features: cached, or computed from its input (AST: augmented in training) or, for a
    /// wav2vec 2.0 clip longer than the crop, from a random crop.
    func frozen(_ clip: TrainingClips.Clip, training: Bool, generator: inout SeededRandomGenerator) throws -> PackTrainingModel.FrozenFeatures {
        if let frozen = clip.frozen { return frozen }
        switch model.backbone {
        case .ast:
            guard var x = clip.input, case let .ast(ast, _) = model.backbone else { preconditionFailure("AST clip without features") }
            let bins = ast.config.melBins, frames = x.count / bins
            if training { augment.apply(&x, frames: frames, bins: bins, generator: &generator) }
            return try model.frozenFeatures(Tensor(shape: [1, frames, bins], values: x), workspace: workspace)
        case .wav2vec2:
            var samples = clip.input ?? []
            if clip.input == nil, let crop = recipe.cropSamples {
                let start = generator.integer(below: clip.samples.count - crop + 1)
                samples = Array(clip.samples[start..<(start + crop)])
            }
            return try model.frozenFeatures(Tensor(shape: [1, samples.count], values: samples), workspace: workspace)
        }
    }

    /// One epoch: shuffled batches, one Adam step each. Returns the mean training loss and the running accuracy.
    func trainEpoch(_ clips: TrainingClips, adam: Adam, learningRate: Double, generator: inout SeededRandomGenerator) throws
        -> (loss: Double, accuracy: Double)
    {
        let parameters = model.parameters, n = clips.clips.count
        let order = generator.permutation(n)
        var lossSum = 0.0, correct = 0
        for start in stride(from: 0, to: n, by: recipe.batchSize) {
            let batch = Array(order[start..<min(start + recipe.batchSize, n)])
            var features: [PackTrainingModel.FrozenFeatures] = []
            for i in batch { features.append(try frozen(clips.clips[i], training: true, generator: &generator)) }
            parameters.zeroGradients()
            // Examples of different lengths (whole wav2vec 2.0 clips) run as groups of equal shape; the loss is still the
            // mean over the whole batch.
            for group in Self.groups(features) {
                let dropouts = (0..<parameters.layout.layers).map { _ -> AdapterDropout? in
                    recipe.adapterDropout > 0 ? AdapterDropout(probability: Float(recipe.adapterDropout), seed: generator.next()) : nil
                }
                let labels = group.map { clips.clips[batch[$0]].label }
                let step = try model.accumulateGradients(.batch(group.map { features[$0] }), labels: labels,
                                                         lossScale: 1 / Float(batch.count), dropouts: dropouts, workspace: workspace)
                lossSum += step.loss
                correct += zip(Self.predictions(step.logits), labels).filter { $0 == $1 }.count
            }
            adam.step(parameters, learningRate: learningRate)
        }
        return (lossSum / Double(max(n, 1)), Double(correct) / Double(max(n, 1)))
    }

    /// Mean cross-entropy and accuracy without dropout or augmentation.
    func evaluate(_ clips: TrainingClips) throws -> (loss: Double, accuracy: Double) {
        var lossSum = 0.0, correct = 0, unused = SeededRandomGenerator(seed: 0)
        let n = clips.clips.count
        for start in stride(from: 0, to: n, by: validationBatch) {
            let batch = Array(start..<min(start + validationBatch, n))
            let features = try batch.map { try frozen(clips.clips[$0], training: false, generator: &unused) }
            for group in Self.groups(features) {
                let labels = group.map { clips.clips[batch[$0]].label }
                let logits = try model.logits(.batch(group.map { features[$0] }), workspace: workspace)
                lossSum += CrossEntropy.lossAndGradient(logits: logits, labels: labels, scale: 0).loss
                correct += zip(Self.predictions(logits), labels).filter { $0 == $1 }.count
            }
        }
        return (lossSum / Double(max(n, 1)), Double(correct) / Double(max(n, 1)))
    }

    /// Positions of features of equal shape, in order of first appearance.
    static func groups(_ features: [PackTrainingModel.FrozenFeatures]) -> [[Int]] {
        var groups: [[Int]] = []
        for (i, f) in features.enumerated() {
            if let g = groups.firstIndex(where: { features[$0[0]].values.shape == f.values.shape }) { groups[g].append(i) } else { groups.append([i]) }
        }
        return groups
    }

    /// The arg-max class of each row (the first of equal maxima).
    static func predictions(_ logits: Tensor) -> [Int] {
        let (rows, classes) = (logits.shape[0], logits.shape[1])
        return (0..<rows).map { r in
            var best = 0
            for c in 1..<classes where logits.data[r * classes + c] > logits.data[r * classes + best] { best = c }
            return best
        }
    }
}
