import IPETFormats
import IPETTensor

/// The value checks a checkpoint passes when it is loaded (`CheckpointImporter`): every weight finite, every
/// epsilon of the config a finite positive number. One pass over the weights: the scan keeps the largest magnitude
/// bit pattern (an integer max, which the compiler vectorises), and only a tensor that holds a NaN or infinity is
/// scanned again to say where.
public enum WeightValueCheck {
    /// IEEE-754 binary32: exponent all ones (infinity, or NaN with a non-zero mantissa).
    static let exponentMask: UInt32 = 0x7F80_0000

    /// Index of the first NaN or ±infinity in `values`, or nil when all are finite.
    public static func firstNonFinite(_ values: UnsafeBufferPointer<Float>) -> Int? {
        guard let base = values.baseAddress, !values.isEmpty else { return nil }
        let bits = UnsafeBufferPointer(start: UnsafeRawPointer(base).assumingMemoryBound(to: UInt32.self), count: values.count)
        var largest: UInt32 = 0
        for b in bits { largest = max(largest, b & 0x7FFF_FFFF) }
        guard largest >= exponentMask else { return nil }
        return values.firstIndex { !$0.isFinite }
    }

    /// Throws for the first tensor of `store` (in name order) that holds a NaN or infinity, naming it as the file
    /// spells it.
    public static func checkFinite(_ store: WeightStore) throws(CheckpointValueError) {
        for name in store.names {
            guard let tensor = store.tensors[name] else { continue }
            let values = tensor.buffer
            guard let first = firstNonFinite(values) else { continue }
            var count = 0
            for v in values where !v.isFinite { count += 1 }
            let value = values[first]
            let shown = value.isNaN ? "NaN" : (value > 0 ? "+inf" : "-inf")
            throw CheckpointValueError(path: store.source, problem: .nonFiniteWeight(
                tensor: store.originalNames[name] ?? name, count: count, elements: values.count, firstIndex: first, firstValue: shown))
        }
    }

    /// Every top-level config key named `eps` or ending in `_eps` / `_epsilon` (`layer_norm_eps` in AST and wav2vec 2.0
    /// configs) must be absent, null, or a finite number above 0 that stays so as Float32 (the models compute in
    /// float32: 1e-50 would become 0). `path` and `origin` say where the config came from.
    public static func checkEpsilons(_ config: JSONValue, path: String, origin: String) throws(CheckpointValueError) {
        guard case let .object(members) = config else { return }
        for (key, value) in members where key == "eps" || key.hasSuffix("_eps") || key.hasSuffix("_epsilon") {
            if value == .null { continue }
            if let d = value.double, d.isFinite, d > 0, Float(d).isFinite, Float(d) > 0 { continue }
            throw CheckpointValueError(path: path, problem: .invalidEpsilon(key: key, value: value.compactText, origin: origin))
        }
    }
}
