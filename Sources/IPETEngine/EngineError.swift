import IPETFormats

/// Why the engine could not do what was asked: a pack that does not fit its backbone, audio that does not make a
/// valid model input, a trial list, score file or embedding cache that cannot be read. Names the file (and the
/// line, for text files) in the library's words; what the user can do about it is `remedy`, which a front end
/// words for its own options (the library never names them).
public struct EngineError: LocatedError, Sendable, Equatable {
    /// What a user can change so that the request succeeds.
    public enum Remedy: Sendable, Equatable {
        /// The pack was made for other weights of the same shape; it can still run if mismatches are allowed.
        case allowMismatch
        /// The checkpoint has no head of its own: run it with a pack.
        case givePack
        /// The model produces embeddings, not class scores.
        case embedInstead
        /// The input is too long for one pass: score it in windows.
        case scoreInWindows
        /// The windows of one input would hold too many features: use a longer hop between them.
        case longerHop
        /// The input length a tuned AST was trained with cannot be inferred: give it.
        case giveFrames
        /// Speaker embeddings are missing and nothing to compute them with was given: give a backbone and a
        /// speaker pack.
        case computeEmbeddings
        /// An embedding cache holds another pack's embeddings: use another cache file.
        case otherEmbeddingCache
        /// A training file cannot be used: leave such files out and go on.
        case skipBadFiles
        /// A training checkpoint belongs to another run: start training afresh (or write elsewhere).
        case startAfresh
    }

    /// The file the problem is in, when it comes from one.
    public let path: String?
    /// 1-based line number inside `path`, for text files.
    public let line: Int?
    public let message: String
    public let remedy: Remedy?

    public init(path: String? = nil, line: Int? = nil, _ message: String, remedy: Remedy? = nil) {
        self.path = path
        self.line = line
        self.message = message
        self.remedy = remedy
    }

    /// `error` as a failure of one input at `path`: its message without the file name when it is about that file
    /// (records carry the file separately), and its remedy when it has one.
    public init(_ error: any Error, about path: String) {
        self.init(path: path, IPETFormats.detail(of: error, about: path), remedy: (error as? EngineError)?.remedy)
    }

    public var file: String? { path }
    public var detail: String { line.map { "line \($0): \(message)" } ?? message }

    public var description: String {
        switch (path, line) {
        case let (path?, line?): return "\(path):\(line): \(message)"
        case let (path?, nil): return "\(path): \(message)"
        default: return message
        }
    }

    /// Finite audio can still overflow float32 features (a float file with samples near 1e30): the engine says so
    /// instead of printing NaN scores or embeddings.
    static func nonFinite(_ what: String, path: String) -> EngineError {
        EngineError(path: path, "\(what) is not finite (NaN or infinity): the input is out of range for this model (a float file "
                    + "with samples far beyond ±1?) or the model or pack holds non-finite values")
    }
}
