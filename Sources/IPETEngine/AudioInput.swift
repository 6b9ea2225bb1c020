import Foundation
import IPETAudio

/// Turns files into the mono waveform at the model's rate: libsndfile decoding, channel averaging, soxr HQ.
public enum AudioInput {
    /// Extensions picked up when a folder is scanned (files named explicitly are always tried).
    public static let audioExtensions: Set<String> = [
        "wav", "wave", "flac", "ogg", "oga", "opus", "mp3", "aif", "aiff", "aifc", "au", "snd", "caf", "w64", "rf64", "voc",
    ]

    /// The longest input accepted, in seconds (12 h: the decoder's frame limit at 16 kHz). Checked before
    /// resampling, whose output grows with the rate ratio (a file claiming 1 Hz would become 16,000× longer).
    public static let maximumSeconds = 12.0 * 3600

    public static func load(_ path: String, sampleRate: Int) throws -> [Float] {
        let decoded = try AudioDecoder.decode(path: path)
        let seconds = Double(decoded.samples.count) / Double(decoded.sampleRate)
        guard seconds <= maximumSeconds else {
            throw AudioPipelineError(path: path, message: String(format: "%.0f s of audio (%d samples at %d Hz) is longer than "
                + "the %.0f h this tool reads", seconds, decoded.samples.count, decoded.sampleRate, maximumSeconds / 3600))
        }
        if decoded.sampleRate == sampleRate { return decoded.samples }
        do {
            return try Resampler.resample(decoded.samples, from: decoded.sampleRate, to: sampleRate, quality: .high)
        } catch {
            throw AudioPipelineError(path: path, message: "cannot resample from \(decoded.sampleRate) Hz: \(error)")
        }
    }
}

/// A failure in the audio → features path that is not the decoder's own.
public struct AudioPipelineError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }

    /// Finite audio can still overflow float32 features (a float file with samples near 1e30): the engine says so
    /// instead of printing NaN scores or embeddings.
    static func nonFinite(_ what: String, path: String) -> AudioPipelineError {
        AudioPipelineError(path: path, message: "\(what) is not finite (NaN or infinity): the input is out of range for this "
                           + "model (a float file with samples far beyond ±1?) or the model or pack holds non-finite values")
    }
}
