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
    /// Int8 `Linear` weights (`Formats/int8.md`) under canonical names: read from an int8 file (then absent from
    /// `tensors`), or quantised at load from the float32 tensor of the same name (which stays in `tensors`).
    public private(set) var int8Weights: [String: QuantizedWeight] = [:]
    /// Build the layers that may run in int8 with int8 weights, quantising their float32 weights (`ComputePrecision`).
    /// Set before a model is built from the store.
    public var quantizesAtLoad = false

    /// Whether a model built from this store runs its large layers in int8.
    public var isInt8: Bool { quantizesAtLoad || int8Weights.keys.contains { tensors[$0] == nil } }

    public init(source: String, tensors: [String: Tensor] = [:], originalNames: [String: String] = [:]) {
        self.source = source
        self.tensors = tensors
        self.originalNames = originalNames
    }

    /// Names whose layer stays float32 even when the store quantises at load: a pack's overrides (a pack's tensors
    /// are float32 in an int8 run, whether the backbone is an int8 file or quantised at load).
    private var keptFloat32 = Set<String>()
    /// Float32 values of int8-stored weights computed in float32 (`storedInt8Tensor`), made once.
    private var dequantized: [String: Tensor] = [:]

    /// A float32 tensor; it replaces an int8 weight of the same name. `keepsFloat32` (a pack's override): its layer
    /// runs in float32 even in an int8 model.
    public func insert(_ tensor: Tensor, canonical: String, original: String, keepsFloat32: Bool = false) {
        tensors[canonical] = tensor
        int8Weights[canonical] = nil
        originalNames[canonical] = original
        if keepsFloat32 { keptFloat32.insert(canonical) }
    }

    /// A new store holding the same tensors and int8 weights (shared, not copied) and the same settings.
    public func shallowCopy() -> WeightStore {
        let copy = WeightStore(source: source, tensors: tensors, originalNames: originalNames)
        copy.int8Weights = int8Weights
        copy.quantizesAtLoad = quantizesAtLoad
        copy.keptFloat32 = keptFloat32
        copy.dequantized = dequantized
        return copy
    }

    /// The shape of weight `name`, float32 or int8.
    public func shape(of name: String) -> [Int]? { tensors[name]?.shape ?? int8Weights[name]?.storedShape }

    /// An int8 weight read from a file (its float32 values are `q · scale`).
    public func insert(_ weight: QuantizedWeight, canonical: String, original: String) {
        int8Weights[canonical] = weight
        originalNames[canonical] = original
    }

    public func remove(_ canonical: String) {
        tensors[canonical] = nil
        int8Weights[canonical] = nil
        originalNames[canonical] = nil
    }

    /// Every weight's canonical name, float32 or int8, sorted.
    public var names: [String] { Set(tensors.keys).union(int8Weights.keys).sorted() }

    private let requestLock = NSLock()
    private var requested = Set<String>()

    /// Names never asked for by `tensor(_:)`: after a model is built from the store, what its config left unused.
    public var unrequested: [String] {
        requestLock.lock()
        defer { requestLock.unlock() }
        return names.filter { !requested.contains($0) }
    }

    /// A config that describes fewer layers than the weights hold would silently run a different model: the first
    /// unused tensor of a numbered layer (`….layer.N.…`, `….layers.N.…`, `conv_layers.N`), if any.
    public var unusedLayerTensor: String? {
        unrequested.first { name in
            let parts = name.split(separator: ".")
            return zip(parts, parts.dropFirst()).contains { ["layer", "layers", "conv_layers"].contains($0) && Int($1) != nil }
        }
    }

    public func contains(_ name: String) -> Bool { tensors[name] != nil || int8Weights[name] != nil }

    /// The tensor `name`, checked against `shape` when given.
    public func tensor(_ name: String, shape: [Int]? = nil) throws(ModelError) -> Tensor {
        requestLock.lock()
        requested.insert(name)
        requestLock.unlock()
        guard let t = tensors[name] else {
            if int8Weights[name] != nil {
                throw ModelError(source, "tensor \"\(originalNames[name] ?? name)\" is stored as int8, but its layer runs in float32 "
                                 + "only (int8 is for the attention, feed-forward and feature projections: Formats/int8.md)")
            }
            throw ModelError(source, "missing tensor \"\(name)\"")
        }
        if let shape, t.shape != shape {
            // Accept the same elements under a squeezable shape (e.g. [1,1,D] vs [D]).
            guard t.count == shape.reduce(1, *), t.shape.filter({ $0 != 1 }) == shape.filter({ $0 != 1 }) else {
                throw ModelError(source, "tensor \"\(name)\" has shape \(t.shape), expected \(shape)")
            }
            return t.reshaped(shape)
        }
        return t
    }

    /// The int8 weight of a layer that may run in int8: the one stored under `name` (checked against `shape`), or,
    /// when the store quantises at load, the float32 tensor quantised now (and kept in `int8Weights`, so a converter
    /// can write it). Nil when the layer runs in float32.
    public func int8Weight(_ name: String, shape: [Int]) throws(ModelError) -> QuantizedWeight? {
        if keptFloat32.contains(name) { return nil }
        if let stored = int8Weights[name], tensors[name] == nil {
            requestLock.lock()
            requested.insert(name)
            requestLock.unlock()
            guard stored.storedShape == shape else {
                throw ModelError(source, "int8 tensor \"\(originalNames[name] ?? name)\" has shape \(stored.storedShape), expected \(shape)")
            }
            return stored
        }
        guard quantizesAtLoad else { return nil }
        let weight = try tensor(name, shape: shape)
        requestLock.lock()
        defer { requestLock.unlock() }
        if let made = int8Weights[name] { return made }
        let made = QuantizedWeight.quantize(weight)
        int8Weights[name] = made
        return made
    }

    /// Float32 values of a weight an int8 model *stores* in int8 but computes in float32 (wav2vec 2.0's convolutions,
    /// `Formats/int8.md`): an int8 file's values dequantised (`q · scale`), or, when the store quantises at load, the
    /// float32 weight rounded to the same int8 grid, so `--compute int8` and the converted file compute the same
    /// numbers. A float32 store gives the tensor as it is.
    public func storedInt8Tensor(_ name: String, shape: [Int]) throws(ModelError) -> Tensor {
        if keptFloat32.contains(name) || (tensors[name] != nil && !quantizesAtLoad) { return try tensor(name, shape: shape) }
        requestLock.lock()
        if let made = dequantized[name] {
            requested.insert(name)
            requestLock.unlock()
            return made
        }
        requestLock.unlock()
        let weight: QuantizedWeight
        if let stored = int8Weights[name], tensors[name] == nil {
            guard stored.storedShape == shape else {
                throw ModelError(source, "int8 tensor \"\(originalNames[name] ?? name)\" has shape \(stored.storedShape), expected \(shape)")
            }
            weight = stored
        } else {
            weight = QuantizedWeight.quantize(try tensor(name, shape: shape).reshaped(shape))
        }
        let values = weight.dequantized()
        requestLock.lock()
        defer { requestLock.unlock() }
        requested.insert(name)
        int8Weights[name] = weight
        dequantized[name] = values
        return values
    }

    /// A view that prefixes every name with `prefix.`.
    public func scope(_ prefix: String) -> WeightScope { WeightScope(store: self, prefix: prefix) }
}
