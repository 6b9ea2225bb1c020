import Foundation
import IPETFormats
import IPETTensor

/// The tensors of a checkpoint under their canonical names (the Hugging Face transformers 4.x spelling, see
/// `NameMap`). Models look their weights up here by dotted path, like candle's VarBuilder: a missing or
/// misshaped tensor fails at load time with its full name.
public final class WeightStore: @unchecked Sendable {
    /// Where the weights came from (a file or folder), for error messages.
    public let source: String
    public private(set) var tensors: [String: Tensor]
    /// Canonical name → name in the file, for messages and `inspect`.
    public private(set) var originalNames: [String: String]

    public init(source: String, tensors: [String: Tensor] = [:], originalNames: [String: String] = [:]) {
        self.source = source
        self.tensors = tensors
        self.originalNames = originalNames
    }

    public func insert(_ tensor: Tensor, canonical: String, original: String) {
        tensors[canonical] = tensor
        originalNames[canonical] = original
    }

    public func remove(_ canonical: String) {
        tensors[canonical] = nil
        originalNames[canonical] = nil
    }

    public var names: [String] { tensors.keys.sorted() }

    private let requestLock = NSLock()
    private var requested = Set<String>()

    /// Names never asked for by `tensor(_:)`: after a model is built from the store, what its config left unused.
    public var unrequested: [String] {
        requestLock.lock()
        defer { requestLock.unlock() }
        return tensors.keys.filter { !requested.contains($0) }.sorted()
    }

    /// A config that describes fewer layers than the weights hold would silently run a different model: the first
    /// unused tensor of a numbered layer (`….layer.N.…`, `….layers.N.…`, `conv_layers.N`), if any.
    public var unusedLayerTensor: String? {
        unrequested.first { name in
            let parts = name.split(separator: ".")
            return zip(parts, parts.dropFirst()).contains { ["layer", "layers", "conv_layers"].contains($0) && Int($1) != nil }
        }
    }

    public func contains(_ name: String) -> Bool { tensors[name] != nil }

    /// The tensor `name`, checked against `shape` when given.
    public func tensor(_ name: String, shape: [Int]? = nil) throws(ModelError) -> Tensor {
        requestLock.lock()
        requested.insert(name)
        requestLock.unlock()
        guard let t = tensors[name] else { throw ModelError(source, "missing tensor \"\(name)\"") }
        if let shape, t.shape != shape {
            // Accept the same elements under a squeezable shape (e.g. [1,1,D] vs [D]).
            guard t.count == shape.reduce(1, *), t.shape.filter({ $0 != 1 }) == shape.filter({ $0 != 1 }) else {
                throw ModelError(source, "tensor \"\(name)\" has shape \(t.shape), expected \(shape)")
            }
            return t.reshaped(shape)
        }
        return t
    }

    /// A view that prefixes every name with `prefix.`.
    public func scope(_ prefix: String) -> WeightScope { WeightScope(store: self, prefix: prefix) }
}
