import IPETAudio
import IPETFormats
import IPETModels
import IPETTensor

/// How a training run turns audio into model input for its backbone, and what the pack records of it
/// (`ipet.preprocessing`): AST fbank settings (input frames, normalisation statistics) and the position table of that
/// length; wav2vec 2.0 raw waveforms (not normalised, as IPET) with the recipe's crop.
struct TrainingPreprocessing {
    let model: PackTrainingModel.Backbone
    /// AST: the fbank settings with the backbone's statistics (replaced by `finishFeatures` when they come from data).
    let spectrogram: SpectrogramFeatures?
    let recipe: TrainingRecipe
    let sampleRate: Int

    init(backbone: Backbone, recipe: TrainingRecipe, source: String) throws {
        self.recipe = recipe
        sampleRate = backbone.sampleRate
        switch backbone.model {
        case let .ast(ast):
            guard recipe.cropSamples == nil else {
                throw EngineError(path: source, "is an AST, whose inputs have a length in frames; a crop in samples is for wav2vec 2.0")
            }
            var config = backbone.spectrogram!
            if let frames = recipe.maxLength { config.maxLength = frames }
            model = .ast(ast, positions: try ast.positionEmbeddings(forFrames: config.maxLength))
            do { spectrogram = try SpectrogramFeatures(config) } catch { throw EngineError(path: backbone.source, "\(error)") }
        case let .wav2vec2(w2v, _):
            guard recipe.maxLength == nil, recipe.specAugmentFrequency == 0, recipe.specAugmentTime == 0, recipe.melShift == 0 else {
                throw EngineError(path: source, "is a wav2vec 2.0, which reads the waveform; an input length in frames, SpecAugment and mel shifts are for AST")
            }
            if recipe.adapterResidual, w2v.config.stableLayerNorm {
                throw EngineError(path: source, "is a pre-LN wav2vec 2.0; the adapter residual reproduces the official post-LN code only")
            }
            model = .wav2vec2(w2v)
            spectrogram = nil
        }
    }

    /// Fixes every clip's model input once the training data is known: AST statistics (the training fbanks' or the
    /// backbone's) and normalised features; wav2vec 2.0 inputs that do not change between epochs. Returns the AST
    /// features' final settings.
    func finishFeatures(train: TrainingClips, validation: TrainingClips?) throws -> SpectrogramFeatures? {
        guard var config = spectrogram?.configuration else {
            train.fixWaveforms(cropSamples: recipe.cropSamples, whole: false)
            validation?.fixWaveforms(cropSamples: recipe.cropSamples, whole: true)
            return nil
        }
        if recipe.statistics == .data {
            (config.mean, config.std) = train.fbankStatistics()
            guard config.std > 0, Float(config.std) > 0 else {
                throw EngineError(path: train.clips.first?.item.path, "the training audio's fbank values do not vary (standard deviation 0)")
            }
        }
        let features: SpectrogramFeatures
        do { features = try SpectrogramFeatures(config) } catch { throw EngineError("\(error)") }
        train.normalise(with: features)
        validation?.normalise(with: features)
        return features
    }

    /// The pack's `ipet.preprocessing` members, in `tools/ipet_reference.py`'s order.
    func preprocessing(_ features: SpectrogramFeatures?) -> [(key: String, value: JSONValue)] {
        guard let c = features?.configuration else {
            return [("sampling_rate", .int(sampleRate)), ("do_normalize", .bool(false)), ("crop_samples", recipe.cropSamples.map { .int($0) } ?? .null)]
        }
        return [("sampling_rate", .int(c.samplingRate)), ("num_mel_bins", .int(c.melBins)), ("max_length", .int(c.maxLength)),
                ("mean", .double(c.mean)), ("std", .double(c.std)), ("do_normalize", .bool(c.doNormalize))]
    }
}
