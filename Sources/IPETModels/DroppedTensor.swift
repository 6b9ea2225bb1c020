import IPETFormats

/// A tensor of a checkpoint file that the import leaves out, and why: `ipet convert` names each one, so a converted
/// file never silently holds less than its source.
public struct DroppedTensor: Sendable, Equatable {
    public enum Reason: Sendable, Equatable {
        /// Integer or boolean data (`position_ids`, `num_batches_tracked`, masks): no weight of our models.
        case notFloatingPoint
        /// A floating-point tensor that is no part of the model (`NameMap`: the original AST code's unused
        /// `head`/`head_dist`, IPET prompts and adapters in a backbone checkpoint).
        case notPartOfTheModel
    }

    /// The name as stored in the file.
    public let name: String
    public let dtype: DType
    public let reason: Reason

    public init(name: String, dtype: DType, reason: Reason) {
        self.name = name
        self.dtype = dtype
        self.reason = reason
    }

    /// `"position_ids" (I64): not floating point`, the name escaped.
    public var description: String {
        let why: String
        switch reason {
        case .notFloatingPoint: why = "not floating point, so no weight of the model"
        case .notPartOfTheModel: why = "not part of the model"
        }
        return "\"\(printableUntrusted(name))\" (\(dtype.rawValue)): \(why)"
    }
}
