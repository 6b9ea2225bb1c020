import IPETEngine
import IPETModels

/// A problem of the command line itself (an output path it refuses, options that do not fit together), as one
/// line; the library's errors carry their own file names and are passed through `CommandError.message(for:)`.
struct CommandError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) { self.description = description }

    /// `error`'s message followed by what to do about it in this tool's own options: the library names the remedy,
    /// the command line words it.
    static func message(for error: any Error) -> String { "\(error)" + hint(for: error) }

    /// An error's detail for a record that names the file already, with the same hint.
    static func detail(for error: EngineError) -> String { error.detail + hint(for: error) }

    static func hint(for error: any Error) -> String {
        if let remedy = (error as? ModelError)?.remedy {
            switch remedy {
            case .giveConfig: return " (pass the model folder, or give a config with `ipet convert FILE OUT --config config.json`)"
            }
        }
        guard let remedy = (error as? EngineError)?.remedy else { return "" }
        switch remedy {
        case .allowMismatch: return " (use --allow-mismatch to run it anyway)"
        case .givePack: return " (pass a pack with --pack)"
        case .embedInstead: return ": use `ipet embed`"
        case .scoreInWindows: return "; pass --window SECONDS (e.g. --window 30) to score it in windows"
        case .longerHop: return "; use a longer --hop"
        case .giveFrames: return "; pass --frames"
        case .computeEmbeddings: return "; give --backbone and --pack to compute them"
        case .otherEmbeddingCache: return "; give another --embeddings file"
        case .skipBadFiles: return " (pass --on-bad-file skip to leave unusable files out)"
        case .startAfresh: return "; train without --resume to start afresh, or choose another --out"
        }
    }
}
