import Foundation
import IPETFormats
import IPETModels

/// What `ipet inspect` reports about a checkpoint file or a Hugging Face model folder.
public struct CheckpointInspection: Sendable {
    public struct TensorRow: Sendable {
        public let name: String
        public let dtype: String
        public let shape: [Int]
        public let bytes: Int
        public let file: String

        /// Whether the dtype is one the models compute with (F16, BF16, F32, F64).
        public var isFloatingPoint: Bool { DType(rawValue: dtype)?.isFloatConvertible ?? false }
    }

    public let path: String
    /// "safetensors" or "huggingface-folder".
    public let format: String
    public let architecture: Architecture?
    public let modelType: String?
    public let configClasses: [String]
    public let metadata: [(key: String, value: String)]
    public let tensors: [TensorRow]
    public let files: [String]
    /// The backbone fingerprint (`Formats/ipet-pack.md`) for recognised checkpoints; for a pack, the fingerprint
    /// of the backbone it expects.
    public var fingerprint: String?
    /// True when no config was found and the architecture was recognised from the tensor names alone.
    public var architectureFromTensorNames = false

    /// Whether the file is an int8 checkpoint (`Formats/int8.md`), whose I8 tensors are weights.
    public var isInt8Checkpoint: Bool { metadata.contains { $0.key == Int8Checkpoint.metadataKey } }
    /// Elements of the weights: floating-point tensors, and the I8 weights of an int8 checkpoint (their F32 scales
    /// count too, as they do in the file); tensors of other dtypes are listed but not counted.
    public var parameterCount: Int { tensors.filter(isWeight).reduce(0) { $0 + $1.shape.reduce(1, *) } }
    /// Tensors of other dtypes (integer, boolean, ...), listed with the rest but left out of `parameterCount`.
    public var nonFloatTensorCount: Int { tensors.filter { !isWeight($0) }.count }

    private func isWeight(_ row: TensorRow) -> Bool { row.isFloatingPoint || (isInt8Checkpoint && row.dtype == DType.i8.rawValue) }
    public var byteCount: Int { tensors.reduce(0) { $0 + $1.bytes } }

    /// Reads and validates `path`: a model folder (config.json + weights in any supported format), a safetensors,
    /// PyTorch or HDF5 weight file, or an IPET pack.
    public static func inspect(_ path: String) throws -> CheckpointInspection {
        var isDirectory: ObjCBool = false
        if let problem = RegularFile.unreachable(path) { throw EngineError(path: path, problem) }
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw EngineError(path: path, "no such file or directory")
        }
        // Sniffed once (for HDF5 it opens the file).
        let detected = isDirectory.boolValue ? nil : CheckpointFileFormat.detect(path)
        if !isDirectory.boolValue, detected == nil, let kind = CheckpointFileFormat.foreignKind(path) {
            throw EngineError(path: path, "\(kind), not a checkpoint (safetensors, PyTorch or HDF5)")
        }
        if detected == .safetensors {
            let st = try SafeTensorsFile(path: path)
            if st.metadataValue("ipet.format") == AdapterPack.formatName {
                let pack = try AdapterPack(path: path)
                var report = CheckpointInspection(
                    path: path, format: "ipet-pack", architecture: pack.backbone.architecture, modelType: nil, configClasses: [],
                    metadata: st.metadata,
                    tensors: st.tensors.map { TensorRow(name: $0.name, dtype: $0.dtype.rawValue, shape: $0.shape, bytes: $0.byteCount, file: path) },
                    files: [path])
                report.fingerprint = pack.backbone.fingerprint
                return report
            }
        }
        if isDirectory.boolValue {
            guard FileManager.default.fileExists(atPath: URL(fileURLWithPath: path).appendingPathComponent("config.json").path) else {
                throw EngineError(path: path, "not a model folder: config.json is missing")
            }
        }
        let format = isDirectory.boolValue ? "huggingface-folder" : detected?.rawValue ?? "unknown"
        // Every tensor of every dtype is listed; the files are read once, for the listing and the import.
        let source = try CheckpointImporter.read(path)
        let rows = source.files.flatMap { file in
            file.tensors.map { TensorRow(name: $0.name, dtype: $0.dtype.rawValue, shape: $0.shape, bytes: $0.byteCount, file: file.path) }
        }
        let metadata = source.metadata
        let files = source.files.map(\.path)
        // The architecture (and so the fingerprint) needs a config: from the folder, metadata, or inferred. Without
        // one the report says less; but values no model can run with (NaN weights, a bad epsilon) fail inspect as
        // they fail every other command.
        let checkpoint: ImportedCheckpoint?
        do {
            checkpoint = try CheckpointImporter.load(source).checkpoint
        } catch let error as CheckpointValueError {
            throw error
        } catch {
            checkpoint = nil
        }
        let config = checkpoint?.config
        var report = CheckpointInspection(
            path: path, format: format, architecture: checkpoint?.architecture ?? config.flatMap(Architecture.detect(config:)),
            modelType: config?["model_type"]?.string, configClasses: config?["architectures"]?.array?.compactMap(\.string) ?? [],
            metadata: metadata, tensors: rows, files: files)
        if isDirectory.boolValue, report.architecture == nil {
            let raw = try JSONFile.read(URL(fileURLWithPath: path).appendingPathComponent("config.json").path)
            report = CheckpointInspection(
                path: path, format: format, architecture: nil, modelType: raw["model_type"]?.string,
                configClasses: raw["architectures"]?.array?.compactMap(\.string) ?? [], metadata: metadata, tensors: rows, files: files)
        }
        if let checkpoint {
            report.fingerprint = BackboneFingerprint.compute(checkpoint.weights, architecture: checkpoint.architecture)
        } else if !isDirectory.boolValue, report.architecture == nil, let recognised = try weightsWithoutConfig(source) {
            // A single weight file without a config (any name spelling): the names say what it is, the weights give
            // the fingerprint.
            report = CheckpointInspection(path: path, format: format, architecture: recognised.architecture, modelType: nil,
                                          configClasses: [], metadata: metadata, tensors: rows, files: files)
            report.architectureFromTensorNames = true
            report.fingerprint = BackboneFingerprint.compute(recognised.weights, architecture: recognised.architecture)
        }
        return report
    }

    /// `CheckpointImporter.weightsWithoutConfig`, nil when it fails, except for values no model can run with.
    private static func weightsWithoutConfig(_ source: CheckpointSource) throws -> (architecture: Architecture, weights: WeightStore)? {
        do {
            return try CheckpointImporter.weightsWithoutConfig(source)
        } catch let error as CheckpointValueError {
            throw error
        } catch {
            return nil
        }
    }

    /// Machine-readable form for `--json`.
    public var json: JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("path", .string(path)),
            ("format", .string(format)),
            ("architecture", architecture.map { .string($0.rawValue) } ?? .null),
            ("architecture_from", architecture == nil ? .null : .string(architectureFromTensorNames ? "tensor-names" : "config")),
            ("model_type", modelType.map { .string($0) } ?? .null),
            ("config_architectures", .array(configClasses.map { .string($0) })),
            ("metadata", .object(metadata.map { ($0.key, .string($0.value)) })),
            ("fingerprint", fingerprint.map { .string($0) } ?? .null),
            ("parameters", .integer(.nonNegative(UInt64(parameterCount)))),
            // `parameters` counts the elements of floating-point tensors only; these are listed but not counted.
            ("uncounted_non_float_tensors", .integer(.nonNegative(UInt64(nonFloatTensorCount)))),
            ("bytes", .integer(.nonNegative(UInt64(byteCount)))),
        ]
        members.append(("tensors", .array(tensors.map { row in
            .object([
                ("name", .string(row.name)), ("dtype", .string(row.dtype)),
                ("shape", .array(row.shape.map { .integer(.nonNegative(UInt64($0))) })),
                ("bytes", .integer(.nonNegative(UInt64(row.bytes)))),
            ])
        })))
        return .object(members)
    }
}
