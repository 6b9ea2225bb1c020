import Foundation
import IPETFormats
import IPETTensor

/// A checkpoint read into memory: its configuration and its tensors under canonical names.
public struct ImportedCheckpoint: @unchecked Sendable {
    public let source: String
    public let architecture: Architecture
    /// The model's `config.json` (from the folder, or embedded in a converted file's metadata).
    public let config: JSONValue
    /// `preprocessor_config.json`, when present.
    public let preprocessorConfig: JSONValue?
    public let weights: WeightStore
    /// Fingerprints of the weights this file was converted from (metadata `ipet.derived_from`), e.g. the F32
    /// original of an F16 copy: packs made for those verify here with a precision warning.
    public var derivedFrom: [String] = []
}

/// Reads checkpoints from the files people have and resolves every name spelling through `NameMap`.
/// F32 tensors stay zero-copy views of the mapped files.
public enum CheckpointImporter {
    /// Imports a Hugging Face model folder (`config.json` + `model.safetensors` or shards), or a single
    /// safetensors file that carries its config in the `config` metadata entry (`ipet convert` output).
    public static func load(_ path: String) throws -> ImportedCheckpoint {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw FileError(path: path, reason: "no such file or directory")
        }
        let config: JSONValue
        var preprocessor: JSONValue?
        var files: [SafeTensorsFile] = []
        if isDirectory.boolValue {
            let url = URL(fileURLWithPath: path)
            let configPath = url.appendingPathComponent("config.json").path
            guard FileManager.default.fileExists(atPath: configPath) else {
                throw FileError(path: path, reason: "not a model folder: config.json is missing")
            }
            config = try JSONFile.read(configPath)
            let pre = url.appendingPathComponent("preprocessor_config.json").path
            if FileManager.default.fileExists(atPath: pre) { preprocessor = try JSONFile.read(pre) }
            for file in try weightFiles(in: url) { files.append(try SafeTensorsFile(path: file)) }
        } else {
            let file = try SafeTensorsFile(path: path)
            guard let text = file.metadataValue("config") else {
                throw FileError(path: path, reason: "a single safetensors file needs its config: pass the model folder (config.json beside the weights), or convert it with `ipet convert`")
            }
            config = try JSONParser.parse(text)
            preprocessor = try file.metadataValue("preprocessor_config").map { try JSONParser.parse($0) }
            files = [file]
        }
        guard let architecture = Architecture.detect(config: config) else {
            let type = config["model_type"]?.string ?? "none"
            throw FileError(path: path, reason: "unsupported model_type \"\(type)\" (supported: AST, wav2vec 2.0)")
        }
        let store = WeightStore(source: path)
        for file in files {
            for info in file.tensors {
                guard info.dtype.isFloatConvertible else { continue }  // e.g. int64 buffers
                guard let canonical = NameMap.canonical(info.name, architecture: architecture) else { continue }
                if let previous = store.originalNames[canonical] {
                    throw ModelError(path, "tensors \"\(previous)\" and \"\(info.name)\" are the same weight under two names")
                }
                store.insert(try Tensor.load(info, from: file), canonical: canonical, original: info.name)
            }
        }
        var checkpoint = ImportedCheckpoint(source: path, architecture: architecture, config: config,
                                            preprocessorConfig: preprocessor, weights: store)
        for file in files {
            if let text = file.metadataValue("ipet.derived_from") {
                let parsed = try? JSONParser.parse(text)
                checkpoint.derivedFrom += parsed?.array?.compactMap(\.string) ?? parsed?.string.map { [$0] } ?? [text]
            }
        }
        return checkpoint
    }

    /// The weight files of a model folder: `model.safetensors`, or the shards of `model.safetensors.index.json`.
    public static func weightFiles(in folder: URL) throws -> [String] {
        let single = folder.appendingPathComponent("model.safetensors").path
        if FileManager.default.fileExists(atPath: single) { return [single] }
        let index = folder.appendingPathComponent("model.safetensors.index.json").path
        guard FileManager.default.fileExists(atPath: index) else {
            throw FileError(path: folder.path, reason: "no model.safetensors (or model.safetensors.index.json) in the folder")
        }
        let map = try JSONFile.read(index)
        guard let entries = map["weight_map"]?.object else { throw FileError(path: index, reason: "missing \"weight_map\" object") }
        var shards: [String] = []
        for (_, value) in entries {
            guard let shard = value.string, !shard.contains("/"), !shard.hasPrefix(".") else {
                throw FileError(path: index, reason: "weight_map entries must name shard files in the same folder")
            }
            let full = folder.appendingPathComponent(shard).path
            if !shards.contains(full) { shards.append(full) }
        }
        return shards
    }
}
