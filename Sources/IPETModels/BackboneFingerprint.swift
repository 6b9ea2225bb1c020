import Foundation
import IPETFormats
import IPETTensor

/// The content fingerprint that binds packs to backbones (`Formats/ipet-pack.md`, "Backbone fingerprint"):
/// SHA-256 over the backbone tensors under canonical names, sorted, with shapes and float32 values. The same
/// weights give the same fingerprint whatever file format or name spelling they came in; an int8 weight read from a
/// file counts as the float32 values it stands for (`q · scale`, `Formats/int8.md`).
public enum BackboneFingerprint {
    public static let prefix = "sha256:"
    static let domain = "ipet-fingerprint-v1\n"

    /// Whether a canonical tensor name belongs to the frozen backbone (heads and training-only tensors do not).
    public static func isBackboneTensor(_ name: String, architecture: Architecture) -> Bool {
        switch architecture {
        case .ast: return name.hasPrefix(NameMap.astPrefix)
        case .wav2vec2: return name.hasPrefix(NameMap.wav2vec2Prefix) && name != "wav2vec2.masked_spec_embed"
        }
    }

    public static func compute(_ weights: WeightStore, architecture: Architecture) -> String {
        let names = weights.names.filter { isBackboneTensor($0, architecture: architecture) }
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let hasher = SHA256Hasher()
        hasher.update(Array(domain.utf8))
        var buffer: [UInt8] = []
        for name in names {
            // A float32 tensor, or an int8 weight read from a file, hashed as the float32 values it stands for.
            let tensor = weights.tensors[name]
            let int8 = tensor == nil ? weights.int8Weights[name] : nil
            let shape = tensor?.shape ?? int8!.storedShape
            buffer.removeAll(keepingCapacity: true)
            let nameBytes = Array(name.utf8)
            append(UInt64(nameBytes.count), to: &buffer)
            buffer += nameBytes
            append(UInt64(shape.count), to: &buffer)
            for d in shape { append(UInt64(d), to: &buffer) }
            hasher.update(buffer)
            // Float32 little-endian values: on little-endian hosts the tensor's memory is exactly that.
            if let tensor {
                hasher.update(UnsafeRawBufferPointer(tensor.buffer))
            } else if let int8 {
                // `q · scale` per row (`Formats/int8.md`), one row at a time.
                var row = [Float](repeating: 0, count: int8.inFeatures)
                for o in 0..<int8.outFeatures {
                    row.withUnsafeMutableBufferPointer { int8.dequantizeRow(o, into: $0.baseAddress!) }
                    row.withUnsafeBytes { hasher.update($0) }
                }
            }
        }
        return hasher.finalizeText()
    }

    private static func append(_ v: UInt64, to buffer: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { buffer += $0 }
    }
}
