import IPETFormats

/// A file that could not be decoded, naming the file and what was wrong with it.
///
/// Every failure of `AudioDecoder` is one of these, so a batch job can report "which file, and why" without
/// parsing text; `description` is the one-line message meant for people.
public struct AudioError: LocatedError, Sendable, Equatable {
    public let path: String
    public let problem: Problem

    public enum Problem: Equatable, Sendable {
        /// The file could not be opened or inspected (missing, unreadable, a directory...).
        case cannotOpen(String)
        /// The file has zero bytes.
        case empty
        /// libsndfile did not recognise the file; the payload is its `sf_strerror` text.
        case notAudio(String)
        /// The container declares more audio than the file holds (e.g. a WAV `data` chunk larger than the rest
        /// of the file). Counts are in frames (one sample per channel).
        case truncated(declaredFrames: Int64, availableFrames: Int64)
        case zeroChannels
        case invalidSampleRate(Int)
        /// The file is well formed but holds no audio frames.
        case noSamples
        /// The decoded length would exceed the decoder's limit (a guard against decompression bombs).
        case tooLong(limitFrames: Int)
        /// A decoded sample is NaN or infinite (only float formats can hold one); the payload is its frame.
        case nonFinite(frame: Int)
        /// libsndfile reported an error while reading frames (corrupt compressed data, I/O error).
        case readFailed(String)
        /// `AudioFileWriter` could not create or fill the file; the payload is libsndfile's text.
        case writeFailed(String)
    }

    public init(path: String, problem: Problem) {
        self.path = path
        self.problem = problem
    }

    public var file: String? { path }
    public var detail: String { problemText }

    public var problemText: String {
        switch problem {
        case let .cannotOpen(reason): return "cannot open: \(reason)"
        case .empty: return "empty file (0 bytes), not audio"
        case let .notAudio(reason): return "not an audio file libsndfile can read (\(reason))"
        case let .truncated(declared, available):
            return "truncated: the header declares \(declared) frames but the file holds only \(available)"
        case .zeroChannels: return "the file declares zero channels"
        case let .invalidSampleRate(rate): return "invalid sample rate \(rate) Hz"
        case .noSamples: return "the file holds no audio samples"
        case let .tooLong(limit): return "longer than the decoder's limit of \(limit) frames"
        case let .nonFinite(frame): return "sample \(frame) is NaN or infinite: not valid audio"
        case let .readFailed(reason): return "decoding failed: \(reason)"
        case let .writeFailed(reason): return "writing failed: \(reason)"
        }
    }
}
