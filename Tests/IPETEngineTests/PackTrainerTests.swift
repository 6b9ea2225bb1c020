import Foundation
import IPETEngine
import IPETFormats
import IPETModels
import IPETTensor
import IPETTestSupport
import XCTest

/// The training loop around the checked model math: data sets and splits, checkpoints that only their own run may
/// continue, and runs on both backbones and every trainable head.
final class PackTrainerTests: XCTestCase {
    override func setUp() { ComputeThreads.configure(2) }

    private static let demo = try! Backbone.load(Fixtures.path("demo/backbone"))

    private struct Interrupted: Error {}

    /// Runs `epochs` epochs of a short recipe and stops after the first one, leaving its checkpoint.
    private func checkpointAfterOneEpoch(_ dir: URL, recipe: TrainingRecipe) throws -> String {
        var options = PackTrainer.Options(recipe: recipe)
        options.checkpoint = dir.appendingPathComponent("run.checkpoint").path
        let trainer = PackTrainer(backbone: Self.demo, train: try TrainingSet.folder(dir.appendingPathComponent("data").path), options: options)
        XCTAssertThrowsError(try trainer.run(output: dir.appendingPathComponent("x.ipet").path) { _ in throw Interrupted() })
        XCTAssertTrue(FileManager.default.fileExists(atPath: options.checkpoint!))
        return options.checkpoint!
    }

    private func shortRecipe() -> TrainingRecipe {
        var r = TrainingRecipe()
        r.epochs = 3
        r.promptTokens = 2
        r.bottleneck = 4
        return r
    }

    func testACheckpointIsContinuedOnlyWithItsBackbone() throws {
        let dir = try DemoClassFolders.make(["no", "yes"], count: 3)
        let checkpoint = try checkpointAfterOneEpoch(dir, recipe: shortRecipe())
        var options = PackTrainer.Options(recipe: shortRecipe())
        options.checkpoint = checkpoint
        options.resume = true
        let other = try Backbone.load(Fixtures.path("ast/tiny-b"))
        let trainer = PackTrainer(backbone: other, train: try TrainingSet.folder(dir.appendingPathComponent("data").path), options: options)
        XCTAssertThrowsError(try trainer.run(output: dir.appendingPathComponent("y.ipet").path)) { error in
            let e = error as? EngineError
            XCTAssertEqual(e?.path, checkpoint)
            XCTAssertEqual(e?.remedy, .startAfresh)
            XCTAssertTrue(e?.message.hasPrefix("cannot continue this training run: it was made with the backbone \(Self.demo.fingerprint), not this one ("
                                                 + other.fingerprint) ?? false, "\(error)")
        }
    }

    func testACheckpointIsContinuedOnlyWithItsRecipe() throws {
        let dir = try DemoClassFolders.make(["no", "yes"], count: 3)
        let checkpoint = try checkpointAfterOneEpoch(dir, recipe: shortRecipe())
        var recipe = shortRecipe()
        recipe.learningRate = 1e-2
        var options = PackTrainer.Options(recipe: recipe)
        options.checkpoint = checkpoint
        options.resume = true
        let trainer = PackTrainer(backbone: Self.demo, train: try TrainingSet.folder(dir.appendingPathComponent("data").path), options: options)
        XCTAssertThrowsError(try trainer.run(output: dir.appendingPathComponent("y.ipet").path)) { error in
            XCTAssertTrue("\(error)".contains("it was made with other recipe"), "\(error)")
            XCTAssertTrue("\(error)".contains("\"lr\":0.001"), "\(error)")
        }
        // Without resuming, the same call starts afresh and succeeds.
        options.resume = false
        let fresh = PackTrainer(backbone: Self.demo, train: try TrainingSet.folder(dir.appendingPathComponent("data").path), options: options)
        XCTAssertEqual(try fresh.run(output: dir.appendingPathComponent("y.ipet").path).resumedEpochs, 0)
    }

    func testStratifiedSplitIsSeededAndKeepsEveryClass() throws {
        let dir = try DemoClassFolders.make(["no", "stop", "yes"], count: 10)
        let set = try TrainingSet.folder(dir.appendingPathComponent("data").path)
        var a = SeededRandomGenerator(seed: 5), b = SeededRandomGenerator(seed: 5)
        let (train, validation) = set.split(validationFraction: 0.25, generator: &a)
        // round(10 · 0.25) = round(2.5) = 2 per class, rounding half to even as Python.
        XCTAssertEqual(validation.labels.sorted(), [0, 0, 1, 1, 2, 2])
        XCTAssertEqual(train.items.count, 24)
        XCTAssertTrue(Set(train.items.map(\.name)).isDisjoint(with: validation.items.map(\.name)))
        XCTAssertEqual(set.split(validationFraction: 0.25, generator: &b).validation.items, validation.items)
    }

    func testManifestRowsNeedExactlyOneLabel() throws {
        let dir = Fixtures.temporaryDirectory("train-manifest")
        let manifest = dir.appendingPathComponent("m.csv").path
        let clip = Fixtures.path("demo/heldout/keywords/yes_01.flac")
        try "path,label\n\(clip),yes;no\n\(clip.replacingOccurrences(of: "yes_01", with: "no_01")),no\n".write(toFile: manifest, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try TrainingSet.manifest(manifest)) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(manifest): "), "\(error)")
            XCTAssertTrue("\(error)".hasSuffix("has 2 labels; training takes exactly one label per file"), "\(error)")
        }
    }

    /// wav2vec 2.0 (post-LN, with the official adapter residual) on random crops with whole-clip validation, and an AST
    /// speaker head trained head-only: both write packs that load and run.
    func testWav2Vec2CropsAndASTHeadOnlySpeakerPacksTrainAndLoad() throws {
        let dir = try DemoClassFolders.make(["no", "yes"], count: 4)
        let data = try TrainingSet.folder(dir.appendingPathComponent("data").path)

        var w2v = TrainingRecipe()
        (w2v.epochs, w2v.promptTokens, w2v.bottleneck, w2v.adapterResidual, w2v.cropSamples, w2v.validationFraction) = (2, 2, 4, true, 8000, 0.25)
        let w2vBackbone = try Backbone.load(Fixtures.path("wav2vec2/gn-postln"))
        let w2vOut = dir.appendingPathComponent("w2v.ipet").path
        let w2vResult = try PackTrainer(backbone: w2vBackbone, train: data, options: .init(recipe: w2v)).run(output: w2vOut)
        XCTAssertEqual(w2vResult.pack.preprocessing.cropSamples, 8000)
        XCTAssertTrue(w2vResult.pack.config.adapterResidual)
        XCTAssertEqual(w2vResult.validationClips, 2)
        let w2vTask = try TaskModel(backbone: w2vBackbone, pack: try AdapterPack(path: w2vOut))
        let clip = try AudioInput.load(Fixtures.path("demo/heldout/keywords/yes_01.flac"), sampleRate: 16000)
        XCTAssertEqual(try w2vTask.run([try w2vTask.features(clip, source: "clip")])[0].logits?.count, 2)

        var speaker = TrainingRecipe()
        (speaker.epochs, speaker.promptTokens, speaker.bottleneck, speaker.head, speaker.embeddingDimension) = (2, 0, 0, .speaker, 16)
        let speakerOut = dir.appendingPathComponent("speaker.ipet").path
        let speakerResult = try PackTrainer(backbone: Self.demo, train: data, options: .init(recipe: speaker)).run(output: speakerOut)
        XCTAssertEqual(speakerResult.pack.head.type, .speaker)
        XCTAssertEqual(speakerResult.pack.taskHead.embeddingDimension, 16)
        XCTAssertEqual(speakerResult.pack.parameterBreakdown.map(\.group), ["head"])
        let out = try TaskModel(backbone: Self.demo, pack: try AdapterPack(path: speakerOut)).run([try TaskModel(backbone: Self.demo,
            pack: try AdapterPack(path: speakerOut)).features(clip, source: "clip")])[0]
        XCTAssertEqual(out.embedding?.count, 16)
        XCTAssertEqual(out.logits?.count, 2)
    }
}
