import IPETFormats

/// A checkpoint or pack that cannot become a model: a missing or misshaped tensor, a config key out of range, a
/// file that is not what it claims. Names the file and the offending tensor or key, in the library's words; what
/// the user can do about it is `remedy`, which a front end words for its own options.
public struct ModelError: LocatedError, Sendable {
    /// What a user can change so that loading succeeds.
    public enum Remedy: Sendable, Equatable {
        /// Give a `config.json` for weights that carry none and whose configuration cannot be inferred.
        case giveConfig
    }

    public let source: String
    public let message: String
    public let remedy: Remedy?

    public init(_ source: String, _ message: String, remedy: Remedy? = nil) {
        self.source = source
        self.message = message
        self.remedy = remedy
    }

    public var file: String? { source }
    public var detail: String { message }
}
