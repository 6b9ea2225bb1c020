import Foundation
import IPETFormats
import IPETTensor

/// Reads checkpoints from the files people have and resolves every name spelling through `NameMap`.
/// F32 tensors stay zero-copy views of the mapped files where the format allows.
public enum CheckpointImporter {
    /// Weight files looked for in a model folder, in order of preference.
    public static let folderWeightNames = [
        "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "tf_model.h5", "tf_model.h5.index.json", "model.h5",
    ]

    /// Imports a Hugging Face model folder (`config.json` + weights in any supported format), or a single weight
    /// file: one that carries its config in metadata (`ipet convert` output), one with `config.json` beside it, or
    /// an original AST checkpoint (timm names, e.g. `audioset_10_10_0.4593.pth`) whose config is inferred from
    /// its shapes. `configOverride` replaces whatever config would be used.
    public static func load(_ path: String, configOverride: JSONValue? = nil) throws -> ImportedCheckpoint {
        try load(read(path), configOverride: configOverride).checkpoint
    }

    /// Reads what `path` holds (a model folder's weight files, or one weight file): every tensor of every dtype,
    /// before anything is decided about the model.
    public static func read(_ path: String) throws -> CheckpointSource {
        var isDirectory: ObjCBool = false
        if let problem = RegularFile.unreachable(path) { throw ModelError(path, problem) }
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ModelError(path, "no such file or directory")
        }
        func size(_ file: String) -> Int { (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0 }
        let weightFiles = isDirectory.boolValue ? try weightFiles(in: URL(fileURLWithPath: path)) : [path]
        var files: [(path: String, tensors: [SourceTensor])] = []
        var metadata: [(key: String, value: String)] = []
        var fileBytes = 0
        for file in weightFiles {
            let read = try CheckpointFileFormat.read(file, includingAllDTypes: true)
            files.append((file, read.tensors))
            fileBytes += size(file)
            if metadata.isEmpty { metadata = read.metadata }
        }
        return CheckpointSource(path: path, isFolder: isDirectory.boolValue, files: files, metadata: metadata, fileBytes: fileBytes)
    }

    /// Turns what `read` found into a checkpoint, and says which of the file's tensors it left out: integer and
    /// boolean tensors (no weight of our models) and tensors that are no part of the model. Values are checked
    /// (`WeightValueCheck`): a NaN or infinity in any weight, or an epsilon of the config that is not a finite
    /// number above 0, is a `CheckpointValueError`.
    public static func load(_ source: CheckpointSource, configOverride: JSONValue? = nil) throws
        -> (checkpoint: ImportedCheckpoint, dropped: [DroppedTensor])
    {
        let path = source.path
        let folder = source.isFolder ? URL(fileURLWithPath: path) : URL(fileURLWithPath: path).deletingLastPathComponent()
        var dropped: [DroppedTensor] = []
        var tensors: [SourceTensor] = []
        // Int8 weights and their scales (an `ipet convert --dtype int8` file), paired and checked first.
        let (int8, remaining) = try Int8Checkpoint.split(source, tensors: source.tensors)
        for tensor in remaining {
            if tensor.dtype.isFloatConvertible {
                tensors.append(tensor)
            } else {
                dropped.append(DroppedTensor(name: tensor.name, dtype: tensor.dtype, reason: .notFloatingPoint))
            }
        }
        // Each tensor is checked against its own storage, but many tensors can share one storage (aliases, hard
        // links): bound what the whole checkpoint may decode to, from its size on disk (`DecodeBudget`; the HDF5
        // readers apply the same bound before libhdf5 inflates anything).
        let declared = tensors.reduce(0.0) { $0 + Double($1.shape.reduce(1, *)) * 4 }
        let budget = Double(DecodeBudget.limit(fileBytes: UInt64(source.fileBytes)))
        guard declared <= budget else {
            throw ModelError(path, String(format: "its tensors would decode to %.1f GB from %.1f MB on disk "
                + "(shared storages, links or compression); refusing", declared / 1e9, Double(source.fileBytes) / 1e6))
        }
        let metadataValue = source.metadataValue
        let configPath = folder.appendingPathComponent("config.json").path
        let preprocessorPath = folder.appendingPathComponent("preprocessor_config.json").path
        let timm = TimmAST.isTimm(tensors.map(\.name))
        var config: JSONValue
        // Where the config came from, for messages about its values.
        var configOrigin: (path: String, name: String)?
        if let configOverride {
            config = configOverride
            configOrigin = (path, "the given config's")
        } else if let text = metadataValue("config") {
            do { config = try JSONParser.parse(text) } catch {
                throw ModelError(path, "metadata \"config\" is not valid JSON: \(error)")
            }
            configOrigin = (path, "metadata config")
        } else if FileManager.default.fileExists(atPath: configPath) {
            config = try JSONFile.read(configPath)
            configOrigin = (configPath, "config.json")
        } else if timm {
            config = try TimmAST.inferConfig(tensors, source: path)
        } else {
            throw ModelError(path, "no config: pass the model folder (config.json beside the weights)", remedy: .giveConfig)
        }
        if let configOrigin { try WeightValueCheck.checkEpsilons(config, path: configOrigin.path, origin: configOrigin.name) }
        var preprocessor: JSONValue?
        if let text = metadataValue("preprocessor_config") {
            do { preprocessor = try JSONParser.parse(text) } catch {
                throw ModelError(path, "metadata \"preprocessor_config\" is not valid JSON: \(error)")
            }
        } else if FileManager.default.fileExists(atPath: preprocessorPath) {
            preprocessor = try JSONFile.read(preprocessorPath)
        }
        guard let architecture = Architecture.detect(config: config) else {
            let type = config["model_type"]?.string ?? "none"
            throw ModelError(path, "unsupported model_type \"\(printableUntrusted(type))\" (supported: AST, wav2vec 2.0)")
        }
        let store = WeightStore(source: path)
        if timm && architecture == .ast {
            dropped += try TimmAST.insert(tensors, into: store, source: path)
        } else {
            dropped += try insert(tensors, architecture: architecture, into: store)
        }
        for (name, weight) in int8 {
            guard let canonical = NameMap.canonical(name, architecture: architecture) else {
                dropped.append(DroppedTensor(name: name, dtype: .i8, reason: .notPartOfTheModel))
                continue
            }
            if let previous = store.originalNames[canonical] {
                throw ModelError(path, "tensors \"\(printableUntrusted(previous))\" and \"\(printableUntrusted(name))\" are the same weight under two names")
            }
            store.insert(weight, canonical: canonical, original: name)
        }
        // NaN or infinity in a weight would make every output NaN: refused here, once, naming the tensor.
        try WeightValueCheck.checkFinite(store)
        var checkpoint = ImportedCheckpoint(source: path, architecture: architecture, config: config,
                                            preprocessorConfig: preprocessor, weights: store)
        if let text = metadataValue("ipet.derived_from") {
            let parsed = try? JSONParser.parse(text)
            checkpoint.derivedFrom = parsed?.array?.compactMap(\.string) ?? parsed?.string.map { [$0] } ?? [text]
        }
        return (checkpoint, dropped)
    }

    /// The weights of a checkpoint that has no config, under canonical names, when its tensor names say which
    /// architecture it is (`NameMap.architecture(ofTensorNames:)`, any accepted spelling): enough for `inspect` to
    /// name the architecture and compute the fingerprint, not to build a model (sizes such as the number of heads
    /// cannot be read off the tensors). Nil when the names are not recognised.
    public static func weightsWithoutConfig(_ source: CheckpointSource) throws -> (architecture: Architecture, weights: WeightStore)? {
        let tensors = source.tensors.filter(\.dtype.isFloatConvertible)
        guard let architecture = NameMap.architecture(ofTensorNames: tensors.map(\.name)) else { return nil }
        let store = WeightStore(source: source.path)
        try insert(tensors, architecture: architecture, into: store)
        try WeightValueCheck.checkFinite(store)
        return (architecture, store)
    }

    /// Loads each tensor under its canonical name (`NameMap`); returns those that map to none.
    @discardableResult
    static func insert(_ tensors: [SourceTensor], architecture: Architecture, into store: WeightStore) throws -> [DroppedTensor] {
        var dropped: [DroppedTensor] = []
        for tensor in tensors {
            guard let canonical = NameMap.canonical(tensor.name, architecture: architecture) else {
                dropped.append(DroppedTensor(name: tensor.name, dtype: tensor.dtype, reason: .notPartOfTheModel))
                continue
            }
            if let previous = store.originalNames[canonical] {
                throw ModelError(store.source, "tensors \"\(printableUntrusted(previous))\" and \"\(printableUntrusted(tensor.name))\" are the same weight under two names")
            }
            store.insert(try tensor.load(), canonical: canonical, original: tensor.name)
        }
        return dropped
    }

    /// The weight files of a model folder: the first of `folderWeightNames` present (an index names its shards).
    public static func weightFiles(in folder: URL) throws -> [String] {
        for name in folderWeightNames {
            let path = folder.appendingPathComponent(name).path
            guard FileManager.default.fileExists(atPath: path) else { continue }
            if name == "tf_model.h5.index.json" { return [path] }  // TFCheckpoint reads the shards itself
            guard name.hasSuffix(".index.json") else { return [path] }
            let map = try JSONFile.read(path)
            guard let entries = map["weight_map"]?.object else { throw ModelError(path, "missing \"weight_map\" object") }
            var shards: [String] = []
            for (_, value) in entries {
                guard let shard = value.string, !shard.contains("/"), !shard.hasPrefix(".") else {
                    throw ModelError(path, "weight_map entries must name shard files in the same folder")
                }
                let full = folder.appendingPathComponent(shard).path
                if !shards.contains(full) { shards.append(full) }
            }
            return shards
        }
        throw ModelError(folder.path, "no weights in the folder (looked for \(folderWeightNames.joined(separator: ", ")))")
    }
}
