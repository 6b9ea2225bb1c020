import IPETFormats
import IPETModels
import IPETTensor
import IPETTestSupport
import XCTest

/// wav2vec 2.0 against transformers on the tiny fixtures (Fixtures/wav2vec2, made by
/// tools/make_wav2vec2_fixtures.py), on both GEMM backends. Tolerance: 1e-4 max abs on features, hidden states,
/// logits and x-vectors.
final class Wav2Vec2ParityTests: XCTestCase {
    override func setUp() { ComputeThreads.configure(2) }

    struct Loaded {
        let model: Wav2Vec2Model
        let head: Wav2Vec2Head?
    }

    private func load(_ name: String) throws -> Loaded {
        let checkpoint = try CheckpointImporter.load(Fixtures.path("wav2vec2/\(name)"))
        XCTAssertEqual(checkpoint.architecture, .wav2vec2)
        let config = try Wav2Vec2Configuration(config: checkpoint.config, source: checkpoint.source)
        return Loaded(model: try Wav2Vec2Model(config: config, weights: checkpoint.weights),
                      head: try Wav2Vec2Head.load(config: config, weights: checkpoint.weights))
    }

    private func assertClose(_ got: Tensor, _ reference: SafeTensorsFile, _ key: String, _ label: String,
                             file: StaticString = #filePath, line: UInt = #line) throws {
        let expected = try reference.floats(key)
        XCTAssertEqual(got.count, expected.count, "\(label) \(key) size", file: file, line: line)
        XCTAssertLessThan(maxAbsDifference(got.array, expected), 1e-4, "\(label) \(key)", file: file, line: line)
    }

    private func check(_ name: String) throws {
        let loaded = try load(name)
        let reference = try Fixtures.safetensors("wav2vec2/references/\(name).safetensors")
        let inputs = try Fixtures.safetensors("wav2vec2/references/inputs.safetensors")
        let clips = reference.metadataValue("clips")!.split(separator: ",").map(String.init)
        let normalized = reference.metadataValue("do_normalize") == "true" || reference.metadataValue("do_normalize") == "True"
        try forEachGemmBackend { backend in
            try check(loaded, reference, inputs: inputs, clips: clips, normalized: normalized, label: "\(name) \(backend)")
        }
    }

    private func check(_ loaded: Loaded, _ reference: SafeTensorsFile, inputs: SafeTensorsFile, clips: [String], normalized: Bool,
                       label name: String) throws {
        for clip in clips {
            let key = normalized ? "\(clip).input_values.normalized" : "\(clip).waveform"
            let values = try inputs.floats(key)
            let input = Tensor(shape: [1, values.count], values: values)
            let output = try loaded.model.forward(input, outputHiddenStates: true)
            try assertClose(output.extractFeatures, reference, "\(clip).extract_features", name)
            try assertClose(output.lastHiddenState, reference, "\(clip).last_hidden_state", name)
            for (i, state) in output.hiddenStates.enumerated() {
                try assertClose(state, reference, "\(clip).hidden_state.\(i)", name)
            }
            switch loaded.head {
            case let .sequenceClassification(head)?:
                try assertClose(head(output), reference, "\(clip).logits", name)
                XCTAssertEqual(output.frames, [Int(reference.metadataValue("\(clip).frames")!)!])
            case let .xvector(head)?:
                if reference.metadataValue("\(clip).head") == "reject" {
                    XCTAssertThrowsError(try head(output), "\(name) \(clip): too few frames for the TDNN")
                } else {
                    let (embeddings, logits) = try head(output)
                    try assertClose(embeddings, reference, "\(clip).embeddings", name)
                    try assertClose(logits, reference, "\(clip).logits", name)
                }
            case nil:
                XCTAssertNil(reference.info("\(clip).logits"))
            }
        }
    }

    func testInputShorterThanOneFrameIsAClearError() throws {
        let inputs = try Fixtures.safetensors("wav2vec2/references/inputs.safetensors")
        let values = try inputs.floats("too_short.waveform")
        let loaded = try load("ln-preln-seqcls")
        XCTAssertThrowsError(try loaded.model.forward(Tensor(shape: [1, values.count], values: values))) { error in
            XCTAssertTrue("\(error)".contains("shorter than one frame (400 samples)"), "\(error)")
        }
    }

    func testGroupNormPostLNWithLegacyWeightNormNames() throws { try check("gn-postln") }
    func testGroupNormPostLNWithParametrizationNames() throws { try check("gn-postln-param") }
    func testLayerNormPreLNSequenceClassification() throws { try check("ln-preln-seqcls") }
    func testWeightedLayerSumAndOddPositionalKernel() throws { try check("gn-seqcls-wls") }
    func testXVectorHead() throws { try check("ln-xvector") }
    func testShortConvStackFromConfig() throws { try check("short-conv") }

    /// Config options that change transformers' forward but that we do not implement are refused by name, so such a
    /// checkpoint never runs as a different model. Everything else in the fixture's config loads.
    func testUnsupportedForwardOptionsAreRefused() throws {
        let checkpoint = try CheckpointImporter.load(Fixtures.path("wav2vec2/gn-postln"))
        guard case var .object(fields) = checkpoint.config else { return XCTFail("config is not an object") }
        XCTAssertNoThrow(try Wav2Vec2Configuration(config: .object(fields + [("add_adapter", .bool(false)), ("adapter_attn_dim", .null)]), source: "c"))
        let cases: [(String, JSONValue, String)] = [
            ("add_adapter", .bool(true), "add_adapter is true"),
            ("adapter_attn_dim", .int(16), "adapter_attn_dim is set"),
            ("hidden_act", .string("relu"), "hidden_act \"relu\" is not supported"),
            ("feat_extract_activation", .string("swish"), "feat_extract_activation \"swish\" is not supported"),
        ]
        for (key, value, message) in cases {
            fields.removeAll { $0.key == key }
            XCTAssertThrowsError(try Wav2Vec2Configuration(config: .object(fields + [(key, value)]), source: "cfg.json")) { error in
                XCTAssertTrue("\(error)".contains(message), "\(error)")
                XCTAssertTrue("\(error)".contains("cfg.json"), "\(error)")
            }
        }
    }

    /// Audio longer than one pass may take is refused before anything of its size is allocated, and the limit is
    /// exact: `maximumSamples` is the longest input that still gives at most `maximumFrames` frames.
    func testInputsLongerThanTheFrameLimitAreRefused() throws {
        let model = try load("gn-postln").model
        let limit = model.config.maximumSamples
        XCTAssertEqual(model.config.frames(samples: limit), Wav2Vec2Model.maximumFrames)
        XCTAssertEqual(model.config.frames(samples: limit + 320), Wav2Vec2Model.maximumFrames + 1)
        XCTAssertThrowsError(try model.forward(Tensor(zeros: [1, limit + 320]))) { error in
            XCTAssertTrue("\(error)".contains("\(Wav2Vec2Model.maximumFrames + 1) frames"), "\(error)")
        }
    }
    func testPretrainingCheckpointLoadsAsBareBackbone() throws { try check("pretraining") }

    func testBothWeightNormSpellingsGiveIdenticalOutputs() throws {
        let inputs = try Fixtures.safetensors("wav2vec2/references/inputs.safetensors")
        let values = try inputs.floats("one_second.waveform")
        let input = Tensor(shape: [1, values.count], values: values)
        let a = try load("gn-postln").model.forward(input).lastHiddenState.array
        let b = try load("gn-postln-param").model.forward(input).lastHiddenState.array
        XCTAssertEqual(a, b)
    }

    func testPaddedBatchesWithAttentionMasks() throws {
        let inputs = try Fixtures.safetensors("wav2vec2/references/inputs.safetensors")
        let shape = try XCTUnwrap(inputs.info("batch.input_values")).shape
        let batch = Tensor(shape: shape, values: try inputs.floats("batch.input_values"))
        let mask = try inputs.integers("batch.attention_mask")
        let valid = (0..<shape[0]).map { b in Int(mask[(b * shape[1])..<((b + 1) * shape[1])].reduce(0, +)) }
        for (name, backend) in ["ln-preln-seqcls", "ln-xvector"].flatMap({ n in GemmBackend.allCases.map { (n, $0) } }) {
            GemmBackend.current = backend
            defer { GemmBackend.current = .onednn }
            let loaded = try load(name)
            let reference = try Fixtures.safetensors("wav2vec2/references/\(name).safetensors")
            let output = try loaded.model.forward(batch, validSamples: valid)
            let label = "\(name) \(backend)"
            try assertClose(output.lastHiddenState, reference, "batch.last_hidden_state", label)
            switch loaded.head {
            case let .sequenceClassification(head)?: try assertClose(head(output), reference, "batch.logits", label)
            case let .xvector(head)?:
                let (embeddings, logits) = try head(output)
                try assertClose(embeddings, reference, "batch.embeddings", label)
                try assertClose(logits, reference, "batch.logits", label)
            case nil: XCTFail("\(name) has a head")
            }
        }
    }
}
