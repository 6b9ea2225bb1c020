import IPETTensor

/// The tensors of a pack file being consumed by what its configuration implies.
final class PackTensors {
    let source: String
    var remaining: [String: Tensor] = [:]

    init(source: String) { self.source = source }

    /// Removes and returns `name`, checking its shape.
    func take(_ name: String, _ shape: [Int]) throws -> Tensor {
        guard let t = remaining.removeValue(forKey: name) else {
            throw ModelError(source, "missing tensor \"\(name)\" (expected shape \(shape))")
        }
        guard t.shape == shape else { throw ModelError(source, "tensor \"\(name)\" has shape \(t.shape), expected \(shape)") }
        return t
    }
}
