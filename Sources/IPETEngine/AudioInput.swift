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
    /// `limit` (seconds, at most `maximumSeconds`) bounds the decoded duration: decoding stops with an error as
    /// soon as a file is longer, before any resampling.
    public static func load(_ item: InputItem, sampleRate: Int, limit: Double = maximumSeconds) throws -> [Float] {
        try resampled(try decode(limit) { try $0.decode(fileSystemPath: item.fileSystemPath, name: item.path) },
                      path: item.path, sampleRate: sampleRate, limit: limit)
    }

    /// A whole audio file held in memory (an upload), named `name` in errors: as `load` would read the same bytes
    /// from a file, without writing them to one.
    public static func load(bytes: [UInt8], name: String, sampleRate: Int, limit: Double = maximumSeconds) throws -> [Float] {
        try resampled(try decode(limit) { try $0.decode(bytes: bytes, name: name) }, path: name, sampleRate: sampleRate, limit: limit)
    }

    private static func decode(_ limit: Double, _ body: (AudioDecoder) throws -> DecodedAudio) throws -> DecodedAudio {
        do {
            return try body(AudioDecoder(maximumSeconds: min(limit, maximumSeconds)))
        } catch let error as AudioError {
            if case .tooLong = error.problem {
                throw EngineError(path: error.path, "is longer than the \(duration(min(limit, maximumSeconds))) this tool reads")
            }
            throw error
        }
    }

    /// "12 h", "600 s".
    private static func duration(_ seconds: Double) -> String {
        seconds >= 3600 && seconds.truncatingRemainder(dividingBy: 3600) == 0 ? String(format: "%.0f h", seconds / 3600)
            : String(format: "%g s", seconds)
    }

    private static func resampled(_ decoded: DecodedAudio, path: String, sampleRate: Int, limit: Double) throws -> [Float] {
        let seconds = Double(decoded.samples.count) / Double(decoded.sampleRate)
        let bound = min(limit, maximumSeconds)
        guard seconds <= bound else {
            throw EngineError(path: path, String(format: "%.0f s of audio (%d samples at %d Hz) is longer than ", seconds,
                                                 decoded.samples.count, decoded.sampleRate) + "the \(duration(bound)) this tool reads")
        }
        if decoded.sampleRate == sampleRate { return decoded.samples }
        do {
            return try Resampler.resample(decoded.samples, from: decoded.sampleRate, to: sampleRate, quality: .high)
        } catch {
            throw EngineError(path: path, "cannot resample from \(decoded.sampleRate) Hz: \(error)")
        }
    }
}
