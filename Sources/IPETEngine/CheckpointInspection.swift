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

    public var parameterCount: Int { tensors.reduce(0) { $0 + $1.shape.reduce(1, *) } }
    public var byteCount: Int { tensors.reduce(0) { $0 + $1.bytes } }

    /// Reads and validates `path`: a `.safetensors` file, or a folder holding `config.json` and
    /// `model.safetensors` (or a sharded `model.safetensors.index.json`).
    public static func inspect(_ path: String) throws -> CheckpointInspection {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw FileError(path: path, reason: "no such file or directory")
        }
        if isDirectory.boolValue {
            let folder = try ModelFolder(path: path)
            var rows: [TensorRow] = []
            var metadata: [(key: String, value: String)] = []
            for file in folder.weightFiles {
                let st = try SafeTensorsFile(path: file)
                if metadata.isEmpty { metadata = st.metadata }
                rows += st.tensors.map { TensorRow(name: $0.name, dtype: $0.dtype.rawValue, shape: $0.shape, bytes: $0.byteCount, file: file) }
            }
            var report = CheckpointInspection(
                path: path, format: "huggingface-folder", architecture: Architecture.detect(config: folder.config),
                modelType: folder.config["model_type"]?.string,
                configClasses: folder.config["architectures"]?.array?.compactMap(\.string) ?? [], metadata: metadata,
                tensors: rows, files: folder.weightFiles)
            if let arch = report.architecture {
                let checkpoint = try CheckpointImporter.load(path)
                report.fingerprint = BackboneFingerprint.compute(checkpoint.weights, architecture: arch)
            }
            return report
        }
        let st = try SafeTensorsFile(path: path)
        let rows = st.tensors.map { TensorRow(name: $0.name, dtype: $0.dtype.rawValue, shape: $0.shape, bytes: $0.byteCount, file: path) }
        if st.metadataValue("ipet.format") == AdapterPack.formatName {
            let pack = try AdapterPack(path: path)
            var report = CheckpointInspection(
                path: path, format: "ipet-pack", architecture: pack.backbone.architecture, modelType: nil, configClasses: [],
                metadata: st.metadata, tensors: rows, files: [path])
            report.fingerprint = pack.backbone.fingerprint
            return report
        }
        // A config embedded by `ipet convert` (metadata key "config") identifies the architecture too.
        let config = st.metadataValue("config").flatMap { try? JSONParser.parse($0) }
        var report = CheckpointInspection(
            path: path, format: "safetensors", architecture: config.flatMap(Architecture.detect(config:)),
            modelType: config?["model_type"]?.string, configClasses: config?["architectures"]?.array?.compactMap(\.string) ?? [],
            metadata: st.metadata, tensors: rows, files: [path])
        if let arch = report.architecture {
            report.fingerprint = BackboneFingerprint.compute(try CheckpointImporter.load(path).weights, architecture: arch)
        }
        return report
    }

    /// Machine-readable form for `--json`.
    public var json: JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("path", .string(path)),
            ("format", .string(format)),
            ("architecture", architecture.map { .string($0.rawValue) } ?? .null),
            ("model_type", modelType.map { .string($0) } ?? .null),
            ("config_architectures", .array(configClasses.map { .string($0) })),
            ("metadata", .object(metadata.map { ($0.key, .string($0.value)) })),
            ("fingerprint", fingerprint.map { .string($0) } ?? .null),
            ("parameters", .integer(.nonNegative(UInt64(parameterCount)))),
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

/// A Hugging Face model folder: `config.json`, weights, and optionally `preprocessor_config.json`.
public struct ModelFolder: Sendable {
    public let path: String
    public let config: JSONValue
    public let preprocessorConfig: JSONValue?
    /// `model.safetensors`, or the shards listed by `model.safetensors.index.json`, in order.
    public let weightFiles: [String]

    public init(path: String) throws {
        self.path = path
        let url = URL(fileURLWithPath: path)
        let configPath = url.appendingPathComponent("config.json").path
        guard FileManager.default.fileExists(atPath: configPath) else {
            throw FileError(path: path, reason: "not a model folder: config.json is missing")
        }
        config = try JSONFile.read(configPath)
        guard case .object = config else { throw FileError(path: configPath, reason: "config.json is not a JSON object") }
        let preprocessorPath = url.appendingPathComponent("preprocessor_config.json").path
        preprocessorConfig = FileManager.default.fileExists(atPath: preprocessorPath) ? try JSONFile.read(preprocessorPath) : nil
        weightFiles = try CheckpointImporter.weightFiles(in: url)
    }
}
