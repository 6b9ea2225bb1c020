import Foundation
import IPETEngine
import IPETFormats
import IPETModels
import IPETTensor
import IPETTestSupport
import XCTest

/// Backbone + adapter pack against the PyTorch IPET reference (tools/ipet_reference.py; fixtures in
/// Fixtures/packs), on both GEMM backends. Tolerance: 1e-4 max abs on logits, embeddings and hidden states.
final class PackParityTests: XCTestCase {
    override func setUp() { ComputeThreads.configure(2) }

    private func pack(_ name: String) throws -> AdapterPack { try AdapterPack(path: Fixtures.path("packs/\(name).ipet")) }
    private func reference(_ name: String) throws -> SafeTensorsFile { try Fixtures.safetensors("packs/references/\(name).safetensors") }
    private func clips(_ reference: SafeTensorsFile) throws -> [String] {
        try JSONParser.parse(reference.metadataValue("clips")!).array!.map { $0.string! }
    }

    private static let tinyA = try! Backbone.load(Fixtures.path("ast/tiny-a"))
    private static let gnPostLN = try! Backbone.load(Fixtures.path("wav2vec2/gn-postln"))
    private static let lnPreLN = try! Backbone.load(Fixtures.path("wav2vec2/ln-preln-seqcls"))

    private func checkAST(_ name: String) throws {
        let task = try TaskModel(backbone: Self.tinyA, pack: try pack(name))
        let ref = try reference(name)
        let audio = try Fixtures.safetensors("audio/reference.safetensors")
        let clips = try clips(ref)
        XCTAssertFalse(clips.isEmpty)
        try forEachGemmBackend { backend in try checkAST(task, ref, audio: audio, clips: clips, label: "\(name) \(backend)") }
    }

    private func checkAST(_ task: TaskModel, _ ref: SafeTensorsFile, audio: SafeTensorsFile, clips: [String], label name: String) throws {
        for clip in clips {
            // From the waveform through our fbank, the whole pipeline a user runs.
            let features = try task.features(try audio.floats("\(clip).16k"), source: clip)
            let out = try task.run([features])[0]
            if let logits = out.logits {
                XCTAssertLessThan(maxAbsDifference(logits, try ref.floats("\(clip).logits")), 1e-4, "\(name) \(clip) logits")
            }
            if ref.info("\(clip).embedding") != nil {
                XCTAssertLessThan(maxAbsDifference(out.embedding ?? [], try ref.floats("\(clip).embedding")), 1e-4, "\(name) \(clip) embedding")
            }
            // From the reference's own input_values when stored: the model alone.
            if ref.info("\(clip).input_values") != nil {
                let exact = try task.run([try ref.floats("\(clip).input_values")])[0]
                XCTAssertLessThan(maxAbsDifference(exact.logits!, try ref.floats("\(clip).logits")), 1e-4, "\(name) \(clip) logits from input_values")
            }
        }
    }

    func testASTPackMatchesReference() throws { try checkAST("ast-tiny-a") }
    func testASTPackWithFewerTimePatchesCropsPositions() throws { try checkAST("ast-tiny-a-short") }
    func testASTPackWithMoreTimePatchesInterpolatesPositions() throws { try checkAST("ast-tiny-a-long") }
    func testF16PackMatchesItsRoundedWeights() throws { try checkAST("ast-tiny-a-f16") }
    func testASTSpeakerPack() throws { try checkAST("ast-tiny-a-speaker") }

    private func checkWav2Vec2(_ name: String, backbone: Backbone) throws {
        let p = try pack(name)
        let task = try TaskModel(backbone: backbone, pack: p)
        let ref = try reference(name)
        let inputs = try Fixtures.safetensors("wav2vec2/references/inputs.safetensors")
        let clips = try clips(ref)
        try forEachGemmBackend { backend in
            try checkWav2Vec2(task, p, backbone: backbone, ref, inputs: inputs, clips: clips, label: "\(name) \(backend)")
        }
    }

    private func checkWav2Vec2(_ task: TaskModel, _ p: AdapterPack, backbone: Backbone, _ ref: SafeTensorsFile, inputs: SafeTensorsFile,
                               clips: [String], label name: String) throws {
        for clip in clips {
            let features = try task.features(try inputs.floats("\(clip).waveform"), source: clip)
            let out = try task.run([features])[0]
            if ref.info("\(clip).logits") != nil {
                XCTAssertLessThan(maxAbsDifference(out.logits!, try ref.floats("\(clip).logits")), 1e-4, "\(name) \(clip) logits")
            }
            if ref.info("\(clip).embedding") != nil {
                XCTAssertLessThan(maxAbsDifference(out.embedding!, try ref.floats("\(clip).embedding")), 1e-4, "\(name) \(clip) embedding")
            }
            guard case let .wav2vec2(model, _) = backbone.model else { return XCTFail() }
            let states = try model.forward(Tensor(shape: [1, features.count], values: features), adaptations: p.adaptations)
            XCTAssertLessThan(maxAbsDifference(states.lastHiddenState.array, try ref.floats("\(clip).last_hidden_state")), 1e-4,
                              "\(name) \(clip) last hidden state")
        }
    }

    func testWav2Vec2PostLNPack() throws { try checkWav2Vec2("w2v2-gn-postln", backbone: Self.gnPostLN) }
    func testWav2Vec2AdapterResidualFlag() throws { try checkWav2Vec2("w2v2-gn-postln-residual", backbone: Self.gnPostLN) }
    func testWav2Vec2PreLNPack() throws { try checkWav2Vec2("w2v2-ln-preln", backbone: Self.lnPreLN) }
    func testWav2Vec2SpeakerPack() throws { try checkWav2Vec2("w2v2-gn-postln-speaker", backbone: Self.gnPostLN) }

    func testResidualFlagChangesTheAnswer() throws {
        let inputs = try Fixtures.safetensors("wav2vec2/references/inputs.safetensors")
        let wave = try inputs.floats("one_second.waveform")
        let a = try TaskModel(backbone: Self.gnPostLN, pack: try pack("w2v2-gn-postln")).run([wave])[0].logits!
        let b = try TaskModel(backbone: Self.gnPostLN, pack: try pack("w2v2-gn-postln-residual")).run([wave])[0].logits!
        XCTAssertGreaterThan(maxAbsDifference(a, b), 0.01)
    }

    func testPaddedBatchWithPromptsMatchesUnbatchedReference() throws {
        let task = try TaskModel(backbone: Self.lnPreLN, pack: try pack("w2v2-ln-preln"))
        let inputs = try Fixtures.safetensors("wav2vec2/references/inputs.safetensors")
        let a = try inputs.floats("one_second.waveform"), b = try inputs.floats("clip_3p7s.waveform")
        let padded = a + [Float](repeating: 0, count: b.count - a.count)
        let expected = try reference("w2v2-ln-preln").floats("batch.logits")
        try forEachGemmBackend { backend in
            let out = try task.run([padded, b], validSamples: [a.count, b.count])
            XCTAssertLessThan(maxAbsDifference(out.flatMap { $0.logits! }, expected), 1e-4, "\(backend)")
        }
    }

    func testFingerprintsEqualThePythonReferenceForEveryBackbone() throws {
        let expected = try JSONFile.read(Fixtures.path("packs/fingerprints.json"))
        var checked = 0
        for (folder, entry) in try XCTUnwrap(expected["fingerprints"]?.object) where folder.hasPrefix("Fixtures/") {
            let path = Fixtures.root.appendingPathComponent(folder).path
            guard FileManager.default.fileExists(atPath: path + "/config.json") else { continue }
            XCTAssertEqual(try Backbone.load(path).fingerprint, entry["fingerprint"]?.string, folder)
            checked += 1
        }
        XCTAssertGreaterThanOrEqual(checked, 7)
    }

    func testTransformers4And5NamesGiveOneFingerprintAndAChangedValueAnother() throws {
        let a = try Backbone.load(Fixtures.path("ast/tiny-a")).fingerprint
        XCTAssertEqual(try Backbone.load(Fixtures.path("ast/tiny-a-5x")).fingerprint, a)
        // Copy tiny-a with one value nudged.
        let dir = Fixtures.temporaryDirectory("changed-backbone")
        try FileManager.default.copyItem(atPath: Fixtures.path("ast/tiny-a/config.json"), toPath: dir.appendingPathComponent("config.json").path)
        let file = try Fixtures.safetensors("ast/tiny-a/model.safetensors")
        var writer = SafeTensorsWriter(metadata: [("format", "pt")])
        for info in file.tensors {
            var values = try file.floats(info.name)
            if info.name.hasSuffix("layer.1.attention.attention.value.weight") { values[5 * 64 + 17] = values[5 * 64 + 17].nextUp }
            writer.add(.init(name: info.name, shape: info.shape, floats: values))
        }
        try writer.write(to: dir.appendingPathComponent("model.safetensors").path)
        let changed = try Backbone.load(dir.path)
        XCTAssertNotEqual(changed.fingerprint, a)
        // Exactly the one-ulp change the fixture's "wrong fingerprint" pack was made for.
        let wrong = try pack("ast-tiny-a-wrong-fingerprint")
        XCTAssertEqual(changed.fingerprint, wrong.backbone.fingerprint)
        XCTAssertThrowsError(try TaskModel(backbone: changed, pack: try pack("ast-tiny-a"))) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(a) && text.contains(changed.fingerprint) && text.contains("values only"), text)
        }
    }

    func testMismatchedPackIsRefusedUnlessAllowedAndThenGivesTheSameAnswer() throws {
        XCTAssertThrowsError(try TaskModel(backbone: Self.tinyA, pack: try pack("ast-tiny-a-wrong-fingerprint"))) { error in
            // The library names the remedy; the command line words it as --allow-mismatch.
            XCTAssertEqual((error as? EngineError)?.remedy, .allowMismatch, "\(error)")
            XCTAssertFalse("\(error)".contains("--"), "library messages never name command-line options: \(error)")
        }
        let allowed = try TaskModel(backbone: Self.tinyA, pack: try pack("ast-tiny-a-wrong-fingerprint"), allowMismatch: true)
        let ref = try reference("ast-tiny-a")
        let out = try allowed.run([try ref.floats("chirp_6s_16k.input_values")])[0]
        XCTAssertLessThan(maxAbsDifference(out.logits!, try ref.floats("chirp_6s_16k.logits")), 1e-4)
        // Another architecture is refused even when allowed.
        XCTAssertThrowsError(try TaskModel(backbone: Self.gnPostLN, pack: try pack("ast-tiny-a"), allowMismatch: true)) { error in
            XCTAssertTrue("\(error)".contains("architecture differs"), "\(error)")
            XCTAssertNil((error as? EngineError)?.remedy, "allowing a mismatch cannot help when the shapes differ")
        }
    }

    func testESC50ShapedPackHolds0676MParametersAndItsF16FileIsUnder1point5MB() throws {
        let p = try pack("ast-esc50-shape")
        XCTAssertEqual(p.parameterCount, 676_274)
        XCTAssertEqual(p.parameterBreakdown.map(\.count), [36_864, 599_424, 39_986])
        let size = try FileManager.default.attributesOfItem(atPath: p.path)[.size] as! Int
        XCTAssertLessThan(size, 1_500_000)
        XCTAssertEqual(p.labels.count, 50)
    }

    func testPackValidationRejectsBrokenFiles() throws {
        let dir = Fixtures.temporaryDirectory("bad-packs")
        let source = try Fixtures.safetensors("packs/ast-tiny-a.ipet")
        func write(_ name: String, metadata: (inout [(key: String, value: String)]) -> Void, drop: String? = nil) throws -> String {
            var meta = source.metadata
            metadata(&meta)
            var writer = SafeTensorsWriter(metadata: meta, recordsContentDigest: true)
            for info in source.tensors where info.name != drop {
                writer.add(.init(name: info.name, shape: info.shape, floats: try source.floats(info.name)))
            }
            let path = dir.appendingPathComponent(name).path
            try writer.write(to: path)
            return path
        }
        let future = try write("future.ipet", metadata: { m in m = m.map { $0.key == "ipet.version" ? ($0.key, "2.0") : $0 } })
        XCTAssertThrowsError(try AdapterPack(path: future)) { XCTAssertTrue("\($0)".contains("version 2.0 is not supported"), "\($0)") }
        let minor = try write("minor.ipet", metadata: { m in m = m.map { $0.key == "ipet.version" ? ($0.key, "1.7") : $0 } + [("ipet.extra", "ignored")] })
        XCTAssertNoThrow(try AdapterPack(path: minor))
        let missing = try write("missing.ipet", metadata: { _ in }, drop: "adapters.1.up.weight")
        XCTAssertThrowsError(try AdapterPack(path: missing)) { XCTAssertTrue("\($0)".contains("adapters.1.up.weight"), "\($0)") }
        let notPack = Fixtures.path("safetensors/python/dtypes.safetensors")
        XCTAssertThrowsError(try AdapterPack(path: notPack)) { XCTAssertTrue("\($0)".contains("not an IPET pack"), "\($0)") }
    }
}

/// Pack overrides: a pack may replace named backbone tensors for itself only.
final class PackOverrideTests: XCTestCase {
    func testOverrideEqualsABackboneWithThatTensorReplacedAndLeavesTheBackboneAlone() throws {
        ComputeThreads.configure(2)
        let name = "audio_spectrogram_transformer.layernorm.weight"
        let source = try Fixtures.safetensors("packs/ast-tiny-a.ipet")
        let backboneFile = try Fixtures.safetensors("ast/tiny-a/model.safetensors")
        let replaced = try backboneFile.floats(name).enumerated().map { $1 * (1 + 0.5 * Float($0 % 3)) }
        // The pack with an override tensor.
        let dir = Fixtures.temporaryDirectory("override")
        var pack = SafeTensorsWriter(metadata: source.metadata, recordsContentDigest: true)
        for info in source.tensors { pack.add(.init(name: info.name, shape: info.shape, floats: try source.floats(info.name))) }
        pack.add(.init(name: "override." + name, shape: [replaced.count], floats: replaced))
        let packPath = dir.appendingPathComponent("override.ipet").path
        try pack.write(to: packPath)
        // A backbone copy with the tensor replaced in the file, and the original pack.
        let modified = dir.appendingPathComponent("modified")
        try FileManager.default.createDirectory(at: modified, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Fixtures.path("ast/tiny-a/config.json"), toPath: modified.appendingPathComponent("config.json").path)
        var weights = SafeTensorsWriter(metadata: [("format", "pt")])
        for info in backboneFile.tensors {
            weights.add(.init(name: info.name, shape: info.shape, floats: info.name == name ? replaced : try backboneFile.floats(info.name)))
        }
        try weights.write(to: modified.appendingPathComponent("model.safetensors").path)

        let backbone = try Backbone.load(Fixtures.path("ast/tiny-a"))
        let input = try Fixtures.safetensors("ast/references/tiny-a.safetensors").floats("tone440_2s_16k.input_values")
        let withOverride = try TaskModel(backbone: backbone, pack: try AdapterPack(path: packPath)).run([input])[0].logits!
        let onModified = try TaskModel(backbone: try Backbone.load(modified.path), pack: try AdapterPack(path: Fixtures.path("packs/ast-tiny-a.ipet")),
                                       allowMismatch: true).run([input])[0].logits!
        XCTAssertLessThan(maxAbsDifference(withOverride, onModified), 1e-6)
        // The shared backbone is untouched: the plain pack still gives its reference.
        let plain = try TaskModel(backbone: backbone, pack: try AdapterPack(path: Fixtures.path("packs/ast-tiny-a.ipet"))).run([input])[0].logits!
        XCTAssertLessThan(maxAbsDifference(plain, try Fixtures.safetensors("packs/references/ast-tiny-a.safetensors").floats("tone440_2s_16k.logits")), 1e-4)
        XCTAssertGreaterThan(maxAbsDifference(plain, withOverride), 1e-3)
    }
}

/// Classification figures against hand-computed values.
final class ClassificationMetricsTests: XCTestCase {
    func testAveragePrecisionFollowsScikitLearn() {
        // sklearn.metrics.average_precision_score([1, 0, 1, 1, 0], [0.9, 0.8, 0.7, 0.3, 0.1]) = 0.8055555…
        XCTAssertEqual(ClassificationMetrics.averagePrecision(scores: [0.9, 0.8, 0.7, 0.3, 0.1], positives: [true, false, true, true, false]),
                       (1.0 + 2.0 / 3.0 + 3.0 / 4.0) / 3.0, accuracy: 1e-12)
        // Ties form one step: scores [0.5, 0.5], one positive → precision 1/2 at recall 1.
        XCTAssertEqual(ClassificationMetrics.averagePrecision(scores: [0.5, 0.5], positives: [true, false]), 0.5, accuracy: 1e-12)
    }

    func testMultiLabelMeanAveragePrecisionAndTopFive() {
        let m = ClassificationMetrics(labels: ["a", "b"], truth: [[0], [1], [0, 1]],
                                      scores: [[0.9, 0.1], [0.2, 0.7], [0.6, 0.4]], multiLabel: true)
        // Class a: scores (0.9 +, 0.2 −, 0.6 +) → AP 1; class b: (0.1 −, 0.7 +, 0.4 +) → AP 1.
        XCTAssertEqual(m.meanAveragePrecision!, 1, accuracy: 1e-12)
        XCTAssertEqual(m.accuracy, 1, accuracy: 1e-12)
        XCTAssertEqual(m.top5Accuracy, 1, accuracy: 1e-12)
    }

    /// Multi-label per-class figures count every label of an input (decision: score ≥ 0.5), so they agree with the
    /// accuracy: here every input is labelled "wind" and predicted "wind".
    func testMultiLabelPerClassFiguresUseEveryLabel() {
        let m = ClassificationMetrics(labels: ["cat", "rain", "wind"], truth: [[0, 2], [1, 2], [0, 2], [2]],
                                      scores: [[0.2, 0.1, 0.9], [0.1, 0.6, 0.8], [0.7, 0.1, 0.9], [0.1, 0.1, 0.3]], multiLabel: true)
        XCTAssertEqual(m.accuracy, 1, accuracy: 1e-12)
        let wind = m.perClass[2], cat = m.perClass[0], rain = m.perClass[1]
        XCTAssertEqual(wind.support, 4)
        XCTAssertEqual(wind.precision, 1, accuracy: 1e-12)   // 3 decided, all labelled wind
        XCTAssertEqual(wind.recall, 0.75, accuracy: 1e-12)   // the last one scored 0.3
        XCTAssertEqual(cat.support, 2)
        XCTAssertEqual(cat.recall, 0.5, accuracy: 1e-12)     // 0.7 yes, 0.2 no
        XCTAssertEqual(rain.precision, 1, accuracy: 1e-12)
        XCTAssertEqual(m.confusion[2][2], 4, "top class wind is one of each input's labels")
    }
}
