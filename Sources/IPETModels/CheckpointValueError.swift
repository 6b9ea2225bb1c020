import IPETFormats

/// A checkpoint whose file reads fine but whose values cannot make a working model: a weight holding NaN or ±infinity
/// (every output would be NaN, so every input would fail as if its audio were bad), or an epsilon in the config that
/// is not a finite number above 0 (a LayerNorm divides by √(variance + eps)). Found when the checkpoint is loaded, so
/// `ipet inspect` reports it too, and `predict` fails once, on one line, instead of once per file.
public struct CheckpointValueError: LocatedError, Sendable, Equatable {
    public enum Problem: Sendable, Equatable {
        /// `count` of the tensor's `elements` values are NaN or infinite; the first is `firstValue` at `firstIndex`.
        case nonFiniteWeight(tensor: String, count: Int, elements: Int, firstIndex: Int, firstValue: String)
        /// An epsilon-like config key (`layer_norm_eps`, `…_eps`, `…_epsilon`) whose value is not a finite number
        /// above 0 once stored as Float32; `origin` says which config (`config.json`, the file's metadata, ...).
        case invalidEpsilon(key: String, value: String, origin: String)
    }

    /// The weight file, model folder or config file.
    public let path: String
    public let problem: Problem

    public init(path: String, problem: Problem) {
        self.path = path
        self.problem = problem
    }

    public var file: String? { path }

    public var detail: String {
        switch problem {
        case let .nonFiniteWeight(tensor, count, elements, firstIndex, firstValue):
            let values = count == 1 ? "1 non-finite value" : "\(count) non-finite values"
            return "tensor \"\(printableUntrusted(tensor))\" holds \(values) (first: \(firstValue) at element \(firstIndex) of "
                + "\(elements)); the checkpoint is damaged, refused"
        case let .invalidEpsilon(key, value, origin):
            return "\(origin) \"\(printableUntrusted(key))\" is \(printableUntrusted(value, limit: 40)): an epsilon must be a finite number above 0 "
                + "(also as float32)"
        }
    }
}
