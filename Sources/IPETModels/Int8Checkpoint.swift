import IPETFormats
import IPETTensor

/// Reading the int8 weights of a checkpoint `ipet convert --dtype int8` wrote (`Formats/int8.md`): the metadata
/// marker, and each I8 tensor `NAME` `[out, in]` paired with its F32 scales `NAME_scale` `[out]`.
///
/// The naming follows compressed-tensors (the int8 checkpoints vLLM reads: `…q_proj.weight` I8 beside
/// `…q_proj.weight_scale`), with the scale a vector rather than `[out, 1]`. Everything here is checked before a
/// model is built, and a malformed file is one line naming the file and the tensor.
public enum Int8Checkpoint {
    /// Metadata key whose presence makes a file an int8 checkpoint; its value names the scheme.
    public static let metadataKey = "ipet.quantization"
    /// The only scheme: int8 weights, one symmetric float32 scale per output channel, version 1.
    public static let scheme = "int8-per-output-channel-v1"
    /// `NAME` + this suffix names the scales of the I8 tensor `NAME`.
    public static let scaleSuffix = "_scale"

    /// The int8 weights of `source` (names as in the file, paired and checked), and the tensors left for the
    /// float32 importer. A source without the marker has none: its I8 tensors are left for the importer (which drops
    /// them, as any integer tensor).
    static func split(_ source: CheckpointSource, tensors: [SourceTensor])
        throws -> (int8: [(name: String, weight: QuantizedWeight)], rest: [SourceTensor])
    {
        guard let marker = source.metadataValue(metadataKey) else { return ([], tensors) }
        let path = source.path
        guard marker == scheme else {
            throw ModelError(path, "metadata \"\(metadataKey)\" is \"\(printableUntrusted(marker))\"; this version reads \"\(scheme)\" only")
        }
        var byName: [String: SourceTensor] = [:]
        for t in tensors { byName[t.name] = t }
        var int8: [(name: String, weight: QuantizedWeight)] = []
        var scaleNames = Set<String>()
        for t in tensors where t.dtype == .i8 {
            let name = printableUntrusted(t.name)
            guard t.shape.count >= 2, t.shape[0] > 0 else {
                throw ModelError(path, "int8 tensor \"\(name)\" has shape \(t.shape); int8 tensors are weights [out, in] or [out, in, k]")
            }
            let scaleName = t.name + scaleSuffix
            guard let scale = byName[scaleName] else {
                throw ModelError(path, "int8 tensor \"\(name)\" has no scale tensor \"\(name)\(scaleSuffix)\"")
            }
            guard scale.dtype == .f32 else {
                throw ModelError(path, "scale tensor \"\(printableUntrusted(scaleName))\" is \(scale.dtype.rawValue); scales are F32")
            }
            guard scale.shape == [t.shape[0]] else {
                throw ModelError(path, "scale tensor \"\(printableUntrusted(scaleName))\" has shape \(scale.shape), expected [\(t.shape[0])] "
                                 + "(one per output channel of \"\(name)\" \(t.shape))")
            }
            let scales = try scale.load()
            if let bad = scales.buffer.firstIndex(where: { !($0.isFinite && $0 > 0) }) {
                let v = scales.buffer[bad]
                let shown = v.isNaN ? "NaN" : v == 0 ? "zero" : "\(v)"
                throw ModelError(path, "scale tensor \"\(printableUntrusted(scaleName))\" holds \(shown) at index \(bad); scales must be "
                                 + "finite and above 0")
            }
            guard let load = t.loadInt8 else {
                throw ModelError(path, "int8 tensor \"\(name)\" cannot be read from this format (int8 weights are stored in safetensors)")
            }
            int8.append((t.name, QuantizedWeight(values: try load(), outFeatures: t.shape[0], inFeatures: t.shape.dropFirst().reduce(1, *),
                                                 scales: scales, storedShape: t.shape)))
            scaleNames.insert(scaleName)
        }
        for t in tensors where t.name.hasSuffix(scaleSuffix) && !scaleNames.contains(t.name) {
            let base = String(t.name.dropLast(scaleSuffix.count))
            throw ModelError(path, "scale tensor \"\(printableUntrusted(t.name))\" has no int8 tensor \"\(printableUntrusted(base))\""
                             + (byName[base].map { " (\"\(printableUntrusted(base))\" is \($0.dtype.rawValue))" } ?? ""))
        }
        return (int8, tensors.filter { $0.dtype != .i8 && !scaleNames.contains($0.name) })
    }
}
