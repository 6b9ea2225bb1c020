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
            per file). Classes are the sorted names; at least two.

            Defaults are IPET's recipe (docs/ipet-method.md section 5): 4 prompt tokens per layer, adapters of \
            bottleneck 32 (scale 0.1, dropout 0.1), Adam with betas (0.95, 0.999) and weight decay 5e-7 at lr 1e-3, \
            the learning rate multiplied by 0.85 after every epoch from 5 to 25, 30 epochs of batch 8, seed 1234, \
            cross-entropy. AST features are normalised with the training audio's fbank statistics (--stats backbone: \
            the backbone's). The backbone stays frozen; only what lies between the trainable parameters and the loss \
            is differentiated, and the frozen part below the first layer is computed once per clip.

            Each epoch prints its loss, training and validation accuracy and time on standard error. The pack holds \
            the best validation epoch's parameters (or the last epoch's without validation data) and records the data \
            fingerprint, the recipe and every epoch's figures. A checkpoint (OUT.checkpoint) is written after every \
            epoch and removed when the pack is written; --resume continues a killed run from it and writes the same \
            pack as an uninterrupted run.

            Examples:
              ipet train --backbone ast-audioset --data esc50/train --val-data esc50/val --max-length 512 --out esc50.ipet
              ipet train --backbone wav2vec2-base --manifest train.csv --val-fraction 0.1 --crop-samples 48000 \\
                --head speaker --out speakers.ipet
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

    @Option(name: .customLong("val-fraction"), help: "Hold out this share of the training data (per class) for validation.")
    var valFraction: Double?

    @Option(help: "Prompt tokens per layer.")
    var prompts: Int = 4

    @Option(help: "Adapter bottleneck size.")
    var bottleneck: Int = 32

    @Option(name: .customLong("adapter-scale"), help: "Adapter output scale.")
    var adapterScale: Double = 0.1

    @Flag(name: .customLong("adapter-residual"), help: "The official wav2vec 2.0 code's adapter residual (post-LN wav2vec 2.0 only).")
    var adapterResidual = false

    @Option(help: "The head: ast-pooled (AST), mean-std (wav2vec 2.0) or speaker (an embedding, then a classifier). Default: the backbone's.")
    var head: String?

    @Option(name: .customLong("embedding-dim"), help: "The speaker head's embedding size.")
    var embeddingDim: Int = 128

    @Flag(name: .customLong("head-only"), help: "Train only the head (no prompts, no adapters): the baseline.")
    var headOnly = false

    @Option(help: "Epochs.")
    var epochs: Int = 30

    @Option(name: .customLong("batch-size"), help: "Examples per step.")
    var batchSize: Int = 8

    @Option(help: "Initial learning rate.")
    var lr: Double = 1e-3

    @Option(help: "Epochs after which the learning rate is multiplied by --gamma: a list like 5-25 or 10,20 ('' for none).")
    var milestones: String = "5-25"

    @Option(help: "Learning-rate factor at each milestone.")
    var gamma: Double = 0.85

    @Option(help: "Seed of every random choice (initialisation, split, order, augmentation, dropout).")
    var seed: UInt64 = 1234

    @Option(name: .customLong("max-length"), help: "AST input frames (default: the backbone's max_length).")
    var maxLength: Int?

    @Option(name: .customLong("crop-samples"), help: "wav2vec 2.0: train on random crops of this many samples (validation on whole clips).")
    var cropSamples: Int?

    @Option(name: .customLong("spec-augment"), help: "AST SpecAugment in training: FREQ,TIME = widths below which one frequency and one time mask are drawn (0,0 = off).")
    var specAugment: String?

    @Option(name: .customLong("mel-shift"), help: "AST in training: shift each example's mel axis by a random whole number of bins up to this (vacated bins 0; not part of IPET's recipe).")
    var melShift: Int = 0

    @Option(help: "AST normalisation statistics: data (the training audio's fbank mean and std) or backbone.")
    var stats: String = "data"

    @Option(help: "Stored precision of the pack: f32 or f16.")
    var dtype: String = "f32"

    @Option(name: .customLong("on-bad-file"), help: "A file that cannot be used: fail (stop with its error) or skip (leave it out, listed).")
    var onBadFile: String = "fail"

    @Flag(help: "Continue a killed run from OUT.checkpoint (starts afresh when there is none).")
    var resume = false

    @Option(help: "The backbone name recorded in the pack (default: --backbone as given).")
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
