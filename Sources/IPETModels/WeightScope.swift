import Foundation
import IPETFormats
import IPETTensor

/// A dotted prefix into a `WeightStore` ("audio_spectrogram_transformer.encoder.layer.3").
public struct WeightScope: Sendable {
    public let store: WeightStore
    public let prefix: String

    public func path(_ name: String) -> String { prefix.isEmpty ? name : "\(prefix).\(name)" }

    public func scope(_ name: String) -> WeightScope { WeightScope(store: store, prefix: path(name)) }

    public func tensor(_ name: String, shape: [Int]? = nil) throws(ModelError) -> Tensor {
        try store.tensor(path(name), shape: shape)
    }

    public func contains(_ name: String) -> Bool { store.contains(path(name)) }
}
