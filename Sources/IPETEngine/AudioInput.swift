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

    /// Expands files and folders (recursively, audio extensions only) into a sorted, de-duplicated list.
    /// Explicit files are kept as given; folder entries are `folder/relative/path`.
    public static func expand(_ inputs: [String], extensions: Set<String> = audioExtensions) throws -> [String] {
        var out: [String] = []
        var seen = Set<String>()
        for input in inputs {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory) else {
                // Missing files still get an error record later, so keep them.
                if seen.insert(input).inserted { out.append(input) }
                continue
            }
            guard isDirectory.boolValue else {
                if seen.insert(input).inserted { out.append(input) }
                continue
            }
            guard let walker = FileManager.default.enumerator(atPath: input) else {
                throw AudioPipelineError(path: input, message: "cannot list folder")
            }
            var found: [String] = []
            while let relative = walker.nextObject() as? String {
                let ext = (relative as NSString).pathExtension.lowercased()
                guard extensions.contains(ext) else { continue }
                let full = input.hasSuffix("/") ? input + relative : input + "/" + relative
                var dir: ObjCBool = false
                if FileManager.default.fileExists(atPath: full, isDirectory: &dir), !dir.boolValue { found.append(full) }
            }
            for f in found.sorted() where seen.insert(f).inserted { out.append(f) }
        }
        return out
    }
}

/// A failure in the audio → features path that is not the decoder's own.
public struct AudioPipelineError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let message: String
    public var description: String { "\(path): \(message)" }
}
