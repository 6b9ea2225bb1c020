import Foundation
import IPETFormats
import IPETModels
import IPETTensor

/// `ipet convert`: any importable checkpoint → one canonical file (safetensors or our HDF5 container) with
/// canonical tensor names, the config embedded in metadata, and the backbone fingerprint recorded. The output holds
/// the model's floating-point weights; every other tensor of the input is reported in `Result.dropped`. A precision
/// change records the fingerprint the weights were derived from, so packs made for the original still verify
/// (with a precision warning). `I8` writes the int8 file of `Formats/int8.md`: the layers an int8 backbone runs in
/// int8 as I8 values plus F32 per-output-channel scales, everything else F32.
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
        guard [.f32, .f16, .bf16, .i8].contains(dtype) else {
            throw EngineError(path: output, "cannot store weights as \(dtype.rawValue): only F32, F16, BF16 or I8 (int8)")
        }
        if dtype == .i8, format != .safetensors {
            throw EngineError(path: output, "int8 weights are stored in safetensors only (Formats/int8.md)")
        }
        let (checkpoint, dropped) = try CheckpointImporter.load(CheckpointImporter.read(input), configOverride: config)
        // Int8: the layers the models run in int8 are exactly those that get int8 weights, so the model is built
        // quantising at load (`QuantizedWeight.quantize`, the same function `--compute int8` uses) and its int8
        // weights are written.
        checkpoint.weights.quantizesAtLoad = dtype == .i8
        // The configuration must describe these weights: build the model once (missing tensors, wrong shapes, layers
        // the config leaves out) before writing a file that would only fail, or silently mislead, later.
        _ = try Backbone(checkpoint)
        let original = BackboneFingerprint.compute(checkpoint.weights, architecture: checkpoint.architecture)
        // The values as they will be stored (rounded for F16/BF16, int8 with scales for I8), in name order.
        let names = checkpoint.weights.names
        let rounded = WeightStore(source: output)
        var values: [(String, [Int], [Float])] = []
        var int8: [(String, QuantizedWeight)] = []
        for name in names {
            let quantized = checkpoint.weights.int8Weights[name]
            if dtype == .i8, let quantized {
                int8.append((name, quantized))
                rounded.insert(quantized, canonical: name, original: name)
                continue
            }
            // A float32 tensor, or the float32 values of an int8 file's weight (converted back to a float type).
            let t = checkpoint.weights.tensors[name] ?? quantized!.dequantized()
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
        if !int8.isEmpty { metadata.append((Int8Checkpoint.metadataKey, Int8Checkpoint.scheme)) }
        metadata.append(("ipet.converted_from", input))
        switch format {
        case .safetensors:
            var writer = SafeTensorsWriter(metadata: metadata, recordsContentDigest: true)
            // Tensors other than the int8 weights stay float32 in an int8 file (LayerNorm, biases, embeddings, convs).
            let floatType: DType = dtype == .i8 ? .f32 : dtype
            for (name, shape, v) in values { writer.add(.init(name: name, shape: shape, floats: v, as: floatType)) }
            for (name, q) in int8 {
                let bytes = Array(UnsafeRawBufferPointer(start: q.data, count: q.outFeatures * q.inFeatures))
                writer.add(.init(name: name, dtype: .i8, shape: q.storedShape, data: bytes))
                writer.add(.init(name: name + Int8Checkpoint.scaleSuffix, shape: [q.outFeatures], floats: q.scales.array))
            }
            try writer.write(to: output)
        case .hdf5:
            var container = HDF5TensorContainer(metadata: metadata, tensors: values.map { .init(name: $0.0, shape: $0.1, values: $0.2) })
            container.metadata.append((ContentDigest.metadataKey, ContentDigest.compute(container, storedAs: dtype)))
            try container.write(to: output, dtype: dtype)
        }
        let bytes = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
        return Result(tensors: values.count + 2 * int8.count, fingerprint: fingerprint, derivedFrom: derived, bytes: bytes, dropped: dropped)
    }
}
