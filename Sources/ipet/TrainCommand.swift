import ArgumentParser
import Foundation
import IPETEngine
import IPETFormats
import IPETModels

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train an IPET pack (prompts, adapters and a head) on labelled audio, with the backbone frozen.",
        discussion: """
            The training data is a folder with one sub-folder per class (the folder's name is the class; audio files \
            inside, searched recursively) or a manifest (.csv, .tsv or .jsonl with path and label columns, one label \
            per file). Classes are the sorted names; at least two. Validation data comes from --val-data or \
            --val-manifest (same classes), or --val-fraction holds out a share of each class; without any, the last \
            epoch is kept.

            Defaults are IPET's recipe (docs/ipet-method.md section 5), as tools/train_ipet.py applies it: 4 prompt \
            tokens per layer, adapters of bottleneck 32 (scale 0.1, dropout 0.1), a head with a LayerNorm (eps 1e-5), \
            Adam with betas (0.95, 0.999) and weight decay 5e-7 at lr 1e-3, the learning rate multiplied by 0.85 after \
            every epoch from 5 to 25, 30 epochs of batch 8, seed 1234, cross-entropy, no augmentation. AST features \
            are normalised with the training audio's fbank mean and standard deviation (--stats backbone: the \
            backbone's). The backbone stays frozen and in evaluation mode: only the layers above it are \
            differentiated, and what lies below the first layer (AST patch embedding, wav2vec 2.0 conv encoder) is \
            computed once per clip and kept, unless augmentation or a random crop changes the input each epoch.

            Each epoch prints its loss, training and validation accuracy, learning rate and seconds on standard \
            error. The pack holds the best validation epoch's parameters (highest accuracy, then lowest loss) and \
            records the data fingerprint, the recipe and every epoch's figures; check it with ipet pack verify, \
            measure it with ipet eval. A checkpoint (OUT.checkpoint) is written after every epoch and removed when \
            the pack is written. After a kill, the same command with --resume continues from the last finished \
            epoch and writes the same pack, byte for byte, as a run that was never interrupted; a checkpoint made \
            with another backbone, other data or another recipe is refused.

            A file that cannot be decoded stops the run with its name (--on-bad-file skip: left out, listed, and \
            recorded in the pack). Memory: training a full-size AST (1024 frames, 12 layers) with batches of 8 peaked \
            at 2.2 GB for the whole process, backbone included (docs/training.md).

            Examples:
              ipet train --backbone Fixtures/demo/backbone --data kw/train \\
                --val-data kw/val --lr 1e-2 --max-length 100 --out kw.ipet
              ipet train --backbone ast-audioset --data esc50/train \\
                --val-fraction 0.1 --spec-augment 24,96 --out esc50.ipet
              ipet train --backbone wav2vec2-base --manifest train.csv \\
                --crop-samples 48000 --head speaker --out speakers.ipet
            """)

    @Option(help: ArgumentHelp(HelpText.backbone, valueName: "model"))
    var backbone: String

    @Option(help: ArgumentHelp("Training data: a folder with one sub-folder of audio per class.", valueName: "folder"))
    var data: String?

    @Option(help: ArgumentHelp("Training data: a manifest with path and label columns.", valueName: "manifest"))
    var manifest: String?

    @Option(help: ArgumentHelp("The pack to write.", valueName: "task.ipet"))
    var out: String

    @Option(name: .customLong("val-data"), help: ArgumentHelp("Validation data: a folder of class sub-folders.", valueName: "folder"))
    var valData: String?

    @Option(name: .customLong("val-manifest"), help: ArgumentHelp("Validation data: a manifest.", valueName: "manifest"))
    var valManifest: String?

    @Option(name: .customLong("val-fraction"), help: ArgumentHelp("Hold out this share of each class of the training data for validation (stratified, from --seed), e.g. 0.1.", valueName: "share"))
    var valFraction: Double?

    @Option(help: ArgumentHelp("Prompt tokens prepended at every layer.", valueName: "k"))
    var prompts: Int = 4

    @Option(help: ArgumentHelp("Width of each layer's parallel adapter (down to B, ReLU, up).", valueName: "B"))
    var bottleneck: Int = 32

    @Option(name: .customLong("adapter-scale"), help: ArgumentHelp("Factor on the adapter's output before it joins the layer.", valueName: "s"))
    var adapterScale: Double = 0.1

    @Flag(name: .customLong("adapter-residual"), help: "The official wav2vec 2.0 code's adapter residual (post-LN wav2vec 2.0 only).")
    var adapterResidual = false

    @Option(help: ArgumentHelp("The head: ast-pooled (AST: mean of the CLS and distillation tokens), mean-std (wav2vec 2.0: mean and standard deviation over frames) or speaker (mean-std, an embedding, then a classifier). Default: ast-pooled for AST, mean-std for wav2vec 2.0.", valueName: "head"))
    var head: String?

    @Option(name: .customLong("embedding-dim"), help: ArgumentHelp("The speaker head's embedding size.", valueName: "n"))
    var embeddingDim: Int = 128

    @Flag(name: .customLong("head-only"), help: "Train only the head (no prompts, no adapters): the baseline IPET is compared with. The backbone's pooled output is computed once per clip, so this is fast.")
    var headOnly = false

    @Option(help: ArgumentHelp("Passes over the training data.", valueName: "n"))
    var epochs: Int = 30

    @Option(name: .customLong("batch-size"), help: ArgumentHelp("Examples per optimiser step (memory grows with it).", valueName: "n"))
    var batchSize: Int = 8

    @Option(help: ArgumentHelp("Initial learning rate.", valueName: "rate"))
    var lr: Double = 1e-3

    @Option(help: ArgumentHelp("Epochs after which the learning rate is multiplied by --gamma: a list like 5-25 or 10,20 ('' for none).", valueName: "epochs"))
    var milestones: String = "5-25"

    @Option(help: ArgumentHelp("Learning-rate factor at each milestone.", valueName: "factor"))
    var gamma: Double = 0.85

    @Option(help: ArgumentHelp("Seed of every random choice (initialisation, split, order, augmentation, dropout): the same seed and data give the same pack.", valueName: "n"))
    var seed: UInt64 = 1234

    @Option(name: .customLong("max-length"), help: ArgumentHelp("AST: input length in 10 ms frames (longer clips are cut, shorter padded; default: the backbone's max_length, 1024 for AudioSet models).", valueName: "frames"))
    var maxLength: Int?

    @Option(name: .customLong("crop-samples"), help: ArgumentHelp("wav2vec 2.0: train on a random crop of this many samples of each clip per epoch (shorter clips wrap around); validation sees whole clips. Default: whole clips.", valueName: "samples"))
    var cropSamples: Int?

    @Option(name: .customLong("spec-augment"), help: ArgumentHelp("AST in training: one frequency and one time mask per example, of random widths below FREQ mel bins and TIME frames (IPET on ESC-50: 24,96). Default: off.", valueName: "freq,time"))
    var specAugment: String?

    @Option(name: .customLong("mel-shift"), help: ArgumentHelp("AST in training: move each example's mel axis by a random whole number of bins up to this, either way (vacated bins 0; the demo's sounds recipe, not IPET's).", valueName: "bins"))
    var melShift: Int = 0

    @Option(help: ArgumentHelp("AST normalisation: data (the training audio's fbank mean and standard deviation, as the AST recipe) or backbone (its preprocessor_config.json).", valueName: "data|backbone"))
    var stats: String = "data"

    @Option(help: ArgumentHelp("Stored precision of the pack (training is float32 either way).", valueName: "f32|f16"))
    var dtype: String = "f32"

    @Option(name: .customLong("on-bad-file"), help: ArgumentHelp("A file that cannot be decoded: fail (stop, naming it) or skip (leave it out; listed at the end and in the pack's provenance).", valueName: "fail|skip"))
    var onBadFile: String = "fail"

    @Flag(help: "Continue a killed run from OUT.checkpoint, giving the pack an uninterrupted run would (starts afresh when there is no checkpoint).")
    var resume = false

    @Option(help: ArgumentHelp("The backbone name recorded in the pack (default: --backbone as given).", valueName: "text"))
    var name: String?

    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        guard (data == nil) != (manifest == nil) else { throw ValidationError("give either --data FOLDER or --manifest FILE") }
        guard [valData, valManifest].compactMap({ $0 }).count + (valFraction == nil ? 0 : 1) <= 1 else {
            throw ValidationError("give at most one of --val-data, --val-manifest and --val-fraction")
        }
        if let valFraction, !(valFraction > 0 && valFraction < 1) { throw ValidationError("--val-fraction takes a share above 0 and below 1") }
        if let head, !["ast-pooled", "mean-std", "speaker"].contains(head) { throw ValidationError("--head takes ast-pooled, mean-std or speaker") }
        guard ["f32", "f16"].contains(dtype.lowercased()) else { throw ValidationError("--dtype takes f32 or f16") }
        guard ["fail", "skip"].contains(onBadFile) else { throw ValidationError("--on-bad-file takes fail or skip") }
        guard ["data", "backbone"].contains(stats) else { throw ValidationError("--stats takes data or backbone") }
        guard maxLength == nil || cropSamples == nil else { throw ValidationError("--max-length is for AST, --crop-samples for wav2vec 2.0: give one") }
        guard Self.parseMilestones(milestones) != nil else { throw ValidationError("--milestones takes a list like 5-25 or 10,20") }
        if let specAugment, Self.parsePair(specAugment) == nil { throw ValidationError("--spec-augment takes FREQ,TIME, e.g. 24,96") }
        guard melShift >= 0 else { throw ValidationError("--mel-shift takes a number of bins, 0 or more") }
        if headOnly && (prompts != 4 || bottleneck != 32) { throw ValidationError("--head-only trains no prompts or adapters; drop --prompts and --bottleneck") }
    }

    var recipe: TrainingRecipe {
        var r = TrainingRecipe()
        (r.promptTokens, r.bottleneck) = headOnly ? (0, 0) : (prompts, bottleneck)
        r.adapterScale = adapterScale
        r.adapterResidual = adapterResidual
        r.head = head.flatMap(AdapterPack.HeadType.init(rawValue:))
        r.embeddingDimension = embeddingDim
        r.epochs = epochs
        r.batchSize = batchSize
        r.learningRate = lr
        r.milestones = Self.parseMilestones(milestones)!
        r.gamma = gamma
        r.seed = seed
        r.maxLength = maxLength
        r.cropSamples = cropSamples
        (r.specAugmentFrequency, r.specAugmentTime) = specAugment.flatMap(Self.parsePair) ?? (0, 0)
        r.melShift = melShift
        r.statistics = TrainingRecipe.Statistics(rawValue: stats)!
        r.validationFraction = valFraction ?? 0
        return r
    }

    func run() throws {
        compute.apply()
        var options = PackTrainer.Options(recipe: recipe)
        options.badFiles = PackTrainer.BadFiles(rawValue: onBadFile)!
        options.resume = resume
        options.dtype = dtype.lowercased() == "f16" ? .f16 : .f32
        options.backboneName = name ?? backbone
        let result: PackTrainer.Result
        do {
            let inputs = [backbone, data, manifest, valData, valManifest].compactMap { $0 }
            let target = try OutputGuard.check(out, against: inputs)
            let model = try Backbone.load(backbone)
            let train = try data.map { try TrainingSet.folder($0) } ?? TrainingSet.manifest(manifest!)
            let validation = try valData.map { try TrainingSet.folder($0, classes: train.classes) }
                ?? valManifest.map { try TrainingSet.manifest($0, classes: train.classes) }
            log("training \(out) on \(backbone): \(train.items.count) files in \(train.classes.count) classes"
                + (validation.map { ", validating on \($0.items.count)" } ?? ""))
            result = try PackTrainer(backbone: model, train: train, validation: validation, options: options)
                .run(output: target) { epoch in log(Self.describe(epoch, of: options.recipe.epochs)) }
        } catch {
            throw fail(error)
        }
        if result.resumedEpochs > 0 { log("resumed after epoch \(result.resumedEpochs)") }
        if !result.skipped.isEmpty {
            log("left out \(result.skipped.count) file(s): " + result.skipped.map(\.description).joined(separator: "; "))
        }
        let chosen = result.epochs[result.chosenEpoch - 1]
        emit("wrote \(out): \(result.pack.parameterCount) trainable parameters from epoch \(result.chosenEpoch) of \(result.epochs.count)"
             + (chosen.validationAccuracy.map { String(format: " (validation accuracy %.4f)", $0) } ?? "")
             + "; \(result.trainClips) training and \(result.validationClips) validation clips, data \(result.dataFingerprint)\n")
    }

    static func describe(_ e: TrainingEpoch, of total: Int) -> String {
        var line = String(format: "epoch %d/%d: loss %.4f, train accuracy %.4f", e.epoch, total, e.trainLoss, e.trainAccuracy)
        if let loss = e.validationLoss, let accuracy = e.validationAccuracy {
            line += String(format: ", validation loss %.4f, validation accuracy %.4f", loss, accuracy)
        }
        return line + String(format: ", lr %g, %.1f s", e.learningRate, e.seconds)
    }

    private func log(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }

    /// "5-25" → 5…25, "10,20" → [10, 20], "" → [].
    static func parseMilestones(_ text: String) -> [Int]? {
        var out: [Int] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: true) {
            let ends = part.split(separator: "-").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            switch ends.count {
            case 1: guard let a = ends[0] else { return nil }; out.append(a)
            case 2: guard let a = ends[0], let b = ends[1], a <= b else { return nil }; out += Array(a...b)
            default: return nil
            }
        }
        return out
    }

    static func parsePair(_ text: String) -> (Int, Int)? {
        let parts = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let a = parts[0], let b = parts[1], a >= 0, b >= 0 else { return nil }
        return (a, b)
    }
}
