import IPETAudio
import IPETFormats
import IPETTestSupport
import Testing

/// AST features must match transformers' `ASTFeatureExtractor` on its torchaudio path
/// (`Fixtures/ast/references/<config>.safetensors`, made by `tools/make_ast_fixtures.py` from the
/// `<clip>.16k` waveforms of `Fixtures/audio/reference.safetensors`):
/// `<clip>.fbank` is the Kaldi log-mel matrix `[frames, mel]`, `<clip>.input_values` the padded/truncated,
/// normalised `[max_length, mel]` matrix. Float32 FFT and sum order differ from torch's, so agreement is to
/// ~1e-5 typically; the tolerance is 1e-3 in the log domain.
@Suite struct SpectrogramFeaturesParityTests {
    static let configs = ["tiny-a", "tiny-b"]
    static let tolerance: Float = 1e-3
    static let audio = Result { try Fixtures.safetensors("audio/reference.safetensors") }

    static func reference(_ config: String) throws -> SafeTensorsFile {
        try Fixtures.safetensors("ast/references/\(config).safetensors")
    }

    static func features(_ config: String) throws -> SpectrogramFeatures {
        let configuration = try SpectrogramFeatures.Configuration(
            contentsOf: Fixtures.path("ast/\(config)/preprocessor_config.json"))
        return try SpectrogramFeatures(configuration)
    }

    @Test("the fixture configs load with their own mel count, length and statistics")
    func configsLoad() throws {
        let a = try Self.features("tiny-a").configuration
        #expect(a.melBins == 128 && a.maxLength == 512 && a.mean == -4.2677393 && a.std == 4.5689974)
        let b = try Self.features("tiny-b").configuration
        #expect(b.melBins == 64 && b.maxLength == 200 && b.mean == -6.845978 && b.std == 5.5654526)
    }

    @Test("Kaldi fbank equals torchaudio's within 1e-3 (log domain)",
          arguments: configs, ReferenceClips.framed)
    func fbankMatchesTorchaudio(_ config: String, _ clip: ReferenceClips.Clip) throws {
        let waveform = try Self.audio.get().floats("\(clip.name).16k")
        let file = try Self.reference(config)
        let key = "\(clip.name).fbank"
        let expected = try file.floats(key)
        let extractor = try Self.features(config)
        let fbank = try extractor.fbank.compute(waveform, sampleRate: 16000)
        #expect(fbank.shape == file.info(key)?.shape)
        #expect(maxAbsDifference(fbank.values, expected) <= Self.tolerance)
    }

    @Test("input_values equal ASTFeatureExtractor's within 1e-3",
          arguments: configs, ReferenceClips.framed)
    func inputValuesMatchTransformers(_ config: String, _ clip: ReferenceClips.Clip) throws {
        let waveform = try Self.audio.get().floats("\(clip.name).16k")
        let file = try Self.reference(config)
        let key = "\(clip.name).input_values"
        let expected = try file.floats(key)
        let values = try Self.features(config).computeMatrix(waveform, sampleRate: 16000)
        #expect(values.shape == file.info(key)?.shape)
        #expect(maxAbsDifference(values.values, expected) <= Self.tolerance)
        // transformers' numpy fallback (float64 FFT) is recorded for some clips; it must agree just as well.
        let numpyKey = "\(clip.name).input_values_numpy"
        if file.info(numpyKey) != nil {
            #expect(maxAbsDifference(values.values, try file.floats(numpyKey)) <= Self.tolerance)
        }
    }

    @Test("a 300-sample clip is refused as shorter than one 400-sample window", arguments: configs)
    func tooShortClip(_ config: String) throws {
        let waveform = try Self.audio.get().floats("tiny_300samples_16k.16k")
        #expect(throws: KaldiFbankError.tooShort(samples: 300, windowSize: 400)) {
            try Self.features(config).compute(waveform)
        }
    }

    @Test("audio at another rate is refused, not silently mis-framed")
    func sampleRateMismatch() throws {
        let waveform = try Self.audio.get().floats("mono_8k.decoded")
        #expect(throws: KaldiFbankError.sampleRateMismatch(expected: 16000, actual: 8000)) {
            try Self.features("tiny-a").computeMatrix(waveform, sampleRate: 8000)
        }
    }
}
