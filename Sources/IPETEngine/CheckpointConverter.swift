import Foundation
import IPETFormats
import IPETModels
import IPETTensor

/// `ipet convert`: any importable checkpoint → one canonical file (safetensors or our HDF5 container) with
/// canonical tensor names, the config embedded in metadata, and the backbone fingerprint recorded. The output holds
/// the model's floating-point weights; every other tensor of the input is reported in `Result.dropped`. A precision
/// change records the fingerprint the weights were derived from, so packs made for the original still verify
/// (with a precision warning).
public enum CheckpointConverter {
    public enum OutputFormat: String, Sendable, CaseIterable { case safetensors, hdf5 }

    public struct Result: Sendable {
        public let tensors: Int
        public let fingerprint: String
        public let derivedFrom: [String]
        public let bytes: Int
        /// The input's tensors that the output does not hold (integer and boolean ones, tensors no part of the
        /// model), in input order; the front end names each one.
        public let dropped: [DroppedTensor]
    }

    public static func convert(
        input: String, output: String, dtype: DType = .f32, format: OutputFormat = .safetensors, config: JSONValue? = nil
    ) throws -> Result {
        guard [.f32, .f16, .bf16].contains(dtype) else {
            throw EngineError(path: output, "cannot store weights as \(dtype.rawValue): only F32, F16 or BF16")
        }
        let (checkpoint, dropped) = try CheckpointImporter.load(CheckpointImporter.read(input), configOverride: config)
        // The configuration must describe these weights: build the model once (missing tensors, wrong shapes, layers
        // the config leaves out) before writing a file that would only fail, or silently mislead, later.
        _ = try Backbone(checkpoint)
        let original = BackboneFingerprint.compute(checkpoint.weights, architecture: checkpoint.architecture)
        // The values as they will be stored (rounded for F16/BF16), in name order.
        let names = checkpoint.weights.names
        let rounded = WeightStore(source: output)
        var values: [(String, [Int], [Float])] = []
        for name in names {
            let t = checkpoint.weights.tensors[name]!
            var v = t.array
            switch dtype {
            case .f16: v = v.map { HalfFloat.float(fromHalfBits: HalfFloat.halfBits(from: $0)) }
            case .bf16: v = v.map { HalfFloat.float(fromBFloat16Bits: HalfFloat.bfloat16Bits(from: $0)) }
            default: break
            }
            values.append((name, t.shape, v))
            rounded.insert(Tensor(shape: t.shape, values: v), canonical: name, original: name)
        }
        let fingerprint = BackboneFingerprint.compute(rounded, architecture: checkpoint.architecture)
        var derived = checkpoint.derivedFrom
        if fingerprint != original, !derived.contains(original) { derived.insert(original, at: 0) }
        var metadata: [(key: String, value: String)] = [("format", "pt"), ("config", checkpoint.config.compactText)]
        if let pre = checkpoint.preprocessorConfig { metadata.append(("preprocessor_config", pre.compactText)) }
        metadata.append(("ipet.fingerprint", fingerprint))
        if !derived.isEmpty { metadata.append(("ipet.derived_from", JSONValue.array(derived.map(JSONValue.string)).compactText)) }
        metadata.append(("ipet.converted_from", input))
        switch format {
        case .safetensors:
            var writer = SafeTensorsWriter(metadata: metadata, recordsContentDigest: true)
            for (name, shape, v) in values { writer.add(.init(name: name, shape: shape, floats: v, as: dtype)) }
            try writer.write(to: output)
        case .hdf5:
            var container = HDF5TensorContainer(metadata: metadata, tensors: values.map { .init(name: $0.0, shape: $0.1, values: $0.2) })
            container.metadata.append((ContentDigest.metadataKey, ContentDigest.compute(container, storedAs: dtype)))
            try container.write(to: output, dtype: dtype)
        }
        let bytes = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
        return Result(tensors: values.count, fingerprint: fingerprint, derivedFrom: derived, bytes: bytes, dropped: dropped)
    }
}
