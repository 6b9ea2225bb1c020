import Foundation
import IPETAudio

/// Turns files into the mono waveform at the model's rate: libsndfile decoding, channel averaging, soxr HQ.
public enum AudioInput {
    /// Extensions picked up when a folder is scanned (files named explicitly are always tried).
    public static let audioExtensions: Set<String> = [
        "wav", "wave", "flac", "ogg", "oga", "opus", "mp3", "aif", "aiff", "aifc", "au", "snd", "caf", "w64", "rf64", "voc",
    ]

    public static func load(_ path: String, sampleRate: Int) throws -> [Float] {
        let decoded = try AudioDecoder.decode(path: path)
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
        AudioPipelineError(path: path, message: "\(what) is not finite (NaN or infinity): the audio's values are out of range "
                           + "(a float file with samples far beyond ±1?)")
    }
}
