import Foundation
import IPETFormats
import IPETTensor

/// A checkpoint read into memory: its configuration and its tensors under canonical names.
public struct ImportedCheckpoint: @unchecked Sendable {
    public let source: String
    public let architecture: Architecture
    /// The model's `config.json` (from the folder, or embedded in a converted file's metadata).
    public let config: JSONValue
    /// `preprocessor_config.json`, when present.
    public let preprocessorConfig: JSONValue?
    public let weights: WeightStore
    /// Fingerprints of the weights this file was converted from (metadata `ipet.derived_from`), e.g. the F32
    /// original of an F16 copy: packs made for those verify here with a precision warning.
    public var derivedFrom: [String] = []
}
