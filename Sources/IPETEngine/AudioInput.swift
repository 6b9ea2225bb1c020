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
        try load(InputItem(path: path), sampleRate: sampleRate)
    }

    /// The item's audio (opened by its file-system bytes, so names need not be UTF-8).
    public static func load(_ item: InputItem, sampleRate: Int) throws -> [Float] {
        try resampled(AudioDecoder().decode(fileSystemPath: item.fileSystemPath, name: item.path), path: item.path,
                      sampleRate: sampleRate)
    }

    /// A whole audio file held in memory (an upload), named `name` in errors: as `load` would read the same bytes
    /// from a file, without writing them to one.
    public static func load(bytes: [UInt8], name: String, sampleRate: Int) throws -> [Float] {
        try resampled(AudioDecoder().decode(bytes: bytes, name: name), path: name, sampleRate: sampleRate)
    }

    private static func resampled(_ decoded: DecodedAudio, path: String, sampleRate: Int) throws -> [Float] {
        let seconds = Double(decoded.samples.count) / Double(decoded.sampleRate)
        guard seconds <= maximumSeconds else {
            throw EngineError(path: path, String(format: "%.0f s of audio (%d samples at %d Hz) is longer than "
                + "the %.0f h this tool reads", seconds, decoded.samples.count, decoded.sampleRate, maximumSeconds / 3600))
        }
        if decoded.sampleRate == sampleRate { return decoded.samples }
        do {
            return try Resampler.resample(decoded.samples, from: decoded.sampleRate, to: sampleRate, quality: .high)
        } catch {
            throw EngineError(path: path, "cannot resample from \(decoded.sampleRate) Hz: \(error)")
        }
    }
}
