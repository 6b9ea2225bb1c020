import Foundation
import IPETAudio
import IPETFormats
import IPETModels
import Logging

/// The decoded clips of a training run, each checked once for what the model needs: AST clips keep their raw fbank
/// (normalised once the statistics are known), wav2vec 2.0 clips their waveform. A file that cannot be used is
/// either the run's error or, when bad files are skipped, left out and listed.
final class TrainingClips {
    struct Clip {
        let item: InputItem
        let label: Int
        /// wav2vec 2.0: the waveform at the model rate.
        var samples: [Float]
        /// AST: the raw log-mel fbank `[frames, melBins]`, until `normalise` replaces it by `input`.
        var fbank: FeatureMatrix?
        /// SHA-256 of the decoded samples (float32, little-endian).
        let digest: [UInt8]
        /// The model input when it is the same every epoch (AST features; wav2vec 2.0 clips no longer than the crop,
        /// wrap-padded to it, or whole clips without a crop); nil when training draws a random crop.
        var input: [Float]?
        /// The frozen part of the model for `input`, when cached.
        var frozen: PackTrainingModel.FrozenFeatures?
    }

    var clips: [Clip]
    /// Files left out, with why.
    let skipped: [EngineError]

    static let logger = Logger(label: "ipet.engine")

    /// Decodes every item of `set` (labels as in `set`), for `backbone` with `spectrogram` (AST) or the wav2vec 2.0
    /// `cropSamples`. `skipBadFiles`: leave out unusable files (listed in `skipped`) instead of failing on the first.
    init(_ set: TrainingSet, backbone: Backbone, spectrogram: SpectrogramFeatures?, cropSamples: Int?, skipBadFiles: Bool) throws {
        var clips: [Clip] = [], skipped: [EngineError] = []
        for (item, label) in zip(set.items, set.labels) {
            do {
                let samples = try AudioInput.load(item, sampleRate: backbone.sampleRate)
                let hasher = SHA256Hasher()
                samples.withUnsafeBytes { hasher.update($0) }
                var clip = Clip(item: item, label: label, samples: samples, fbank: nil, digest: hasher.finalize(), input: nil, frozen: nil)
                if let spectrogram {
                    do { clip.fbank = try spectrogram.fbank.compute(samples) } catch { throw EngineError(path: item.path, "\(error)") }
                    clip.samples = []
                } else {
                    try Self.checkWaveform(samples, item: item, backbone: backbone, cropSamples: cropSamples)
                }
                clips.append(clip)
            } catch {
                let failure = EngineError(error, about: item.path)
                guard skipBadFiles else { throw EngineError(path: item.path, failure.detail, remedy: .skipBadFiles) }
                Self.logger.warning("skipped \(item.name): \(failure.detail)")
                skipped.append(EngineError(path: item.name, failure.detail))
            }
        }
        self.clips = clips
        self.skipped = skipped
    }

    /// wav2vec 2.0 whole clips must give the two frames mean-std pooling needs and fit one pass; cropped training
    /// wrap-pads short clips, so only the pass limit applies to the validation's whole clips.
    private static func checkWaveform(_ samples: [Float], item: InputItem, backbone: Backbone, cropSamples: Int?) throws {
        guard case let .wav2vec2(model, _) = backbone.model else { return }
        let frames = model.config.frames(samples: samples.count)
        if samples.isEmpty { throw EngineError(path: item.path, "holds no audio") }
        if cropSamples == nil, frames < 2 {
            throw EngineError(path: item.path, "\(samples.count) samples give \(max(frames, 0)) frame(s); mean and standard-deviation "
                              + "pooling needs at least 2 (about 0.05 s of audio)")
        }
        if frames > Wav2Vec2Model.maximumFrames {
            throw EngineError(path: item.path, "is longer than the \(Wav2Vec2Model.maximumFrames) frames one pass takes")
        }
    }

    /// Mean and (population) standard deviation of every fbank value of the clips, before padding, in double
    /// precision: the AST recipe's dataset statistics (`tools/train_ipet.py` `fbank_stats`).
    func fbankStatistics() -> (mean: Double, std: Double) {
        var count = 0.0, sum = 0.0
        for clip in clips { for v in clip.fbank?.values ?? [] { sum += Double(v); count += 1 } }
        let mean = sum / max(count, 1)
        var squares = 0.0
        for clip in clips { for v in clip.fbank?.values ?? [] { squares += (Double(v) - mean) * (Double(v) - mean) } }
        return (mean, (squares / max(count, 1)).squareRoot())
    }

    /// AST: each clip's input = its fbank padded or cut to the task's frames and normalised, exactly as `TaskModel`
    /// computes it at prediction (`SpectrogramFeatures`); the raw fbank is dropped.
    func normalise(with spectrogram: SpectrogramFeatures) {
        for i in clips.indices {
            guard let fbank = clips[i].fbank else { continue }
            var matrix = spectrogram.padOrTruncate(fbank)
            if spectrogram.configuration.doNormalize { spectrogram.normalize(&matrix) }
            clips[i].input = matrix.values
            clips[i].fbank = nil
        }
    }

    /// wav2vec 2.0: the inputs that do not change between epochs: clips no longer than `cropSamples` wrap-padded to it
    /// (IPET's loader), every clip whole when `cropSamples` is nil. With `whole`, every clip whole (validation).
    func fixWaveforms(cropSamples: Int?, whole: Bool) {
        for i in clips.indices where clips[i].fbank == nil && clips[i].input == nil {
            let samples = clips[i].samples
            if whole || cropSamples == nil {
                clips[i].input = samples
            } else if let crop = cropSamples, samples.count <= crop {
                clips[i].input = WrapPadding.pad(samples, to: crop)
            }
        }
    }

    /// Adds the clips to a data fingerprint: their count, then for each its name, class and samples' digest, in order.
    func fingerprint(into hasher: SHA256Hasher, classes: [String]) {
        hasher.update(u64: UInt64(clips.count))
        for clip in clips {
            hasher.update(lengthPrefixed: clip.item.name)
            hasher.update(lengthPrefixed: classes[clip.label])
            hasher.update(clip.digest)
        }
    }
}
