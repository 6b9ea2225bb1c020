#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A TensorFlow/Keras wav2vec 2.0 checkpoint (`tf_model.h5`, or its sharded variant) read into PyTorch names and
/// layouts (`Formats/hdf5.md` §1).
///
/// Unsharded files (Keras `save_weights`): the root attribute `layer_names` lists the top-level layers; each has a
/// group whose `weight_names` attribute lists the full TF variable names (`<model>/wav2vec2/…/kernel:0`), each a
/// dataset at that path inside the group. `top_level_model_weights` holds variables owned by the model itself (the
/// weighted-layer-sum `layer_weights`). Lists too large for one object header are split into `name0…nameK`.
/// Sharded files (`tf_model.h5.index.json` + `tf_model-0000i-of-0000n.h5`): each shard lists its datasets in a root
/// `layer_names` attribute; the datasets sit at the root under the variable name minus the model component.
///
/// Names are converted exactly like transformers 4.x `convert_tf_weight_name_to_pt_weight_name` (and kept with their
/// `wav2vec2.` prefix, the canonical spelling); values are transposed like its `apply_transpose`: Dense kernels
/// `[in, out]` → `[out, in]`, Conv1D kernels `[k, in, out]` → `[out, in, k]`, Conv2D `[kh, kw, in, out]` →
/// `[out, in, kh, kw]`, and the weight-norm `weight_g` `[K, 1, 1]` is reshaped to PyTorch's `[1, 1, K]`.
public struct TFCheckpoint: Sendable {
    /// One weight in PyTorch convention.
    public struct Weight: Sendable, Equatable {
        /// PyTorch name, e.g. `wav2vec2.encoder.layers.0.attention.q_proj.weight`.
        public let name: String
        /// PyTorch shape (after transposing/reshaping).
        public let shape: [Int]
        /// Values in PyTorch layout, row-major.
        public let values: [Float]
        /// The TF variable name (with model component and `:0`).
        public let tfName: String
        public let tfShape: [Int]
        public let transpose: TFWeightTranspose
        /// The file and dataset it came from.
        public let file: String
        public let dataset: String
        public let storedDType: DType
    }

    /// The file given (a `.h5`, a shard index, or a folder's weight file).
    public let path: String
    /// Every HDF5 file read (one, or the shards in index order).
    public let files: [String]
    /// The Keras model name that prefixes every variable (`tf_wav2_vec2_model`, possibly with a `_N` suffix), when
    /// the file records it (unsharded files do; shards do not).
    public let modelName: String?
    public let kerasVersion: String?
    /// Weights in file order: layers in `layer_names` order, each in `weight_names` order, then
    /// `top_level_model_weights`; for shards, shard by shard in `layer_names` order.
    public let weights: [Weight]

    public static let weightsName = "tf_model.h5"
    public static let indexName = "tf_model.h5.index.json"

    public func weight(named name: String) -> Weight? { weights.first { $0.name == name } }

    /// Reads `path`: a `tf_model.h5`, a single shard, a `tf_model.h5.index.json`, or a folder holding either.
    public init(path: String) throws(HDF5Error) {
        var target = path
        if Self.isDirectory(path) {
            let folder = path.hasSuffix("/") ? String(path.dropLast()) : path
            if Self.isRegularFile(folder + "/" + Self.weightsName) {
                target = folder + "/" + Self.weightsName
            } else if Self.isRegularFile(folder + "/" + Self.indexName) {
                target = folder + "/" + Self.indexName
            } else {
                throw HDF5Error(path: path, object: nil,
                                problem: .io("no \(Self.weightsName) (or \(Self.indexName)) in the folder"))
            }
        }
        self.path = target
        var reader = WeightCollector(origin: target)
        if target.hasSuffix(".json") {
            let shards = try Self.shardFiles(index: target)
            for shard in shards.files {
                try reader.planShard(HDF5File(path: shard), modelName: shards.modelName)
            }
            // transformers reads every dataset each shard lists; the index must not promise more.
            for (name, shard) in shards.weightMap
            where !reader.tfNames.contains(name) && !reader.tfNames.contains(TFCheckpoint.shardDatasetName(tfName: name)) {
                throw HDF5Error(path: target, object: name,
                                problem: .missingWeight("the index places it in \(shard), which does not hold it"))
            }
            self.files = shards.files
            self.modelName = shards.modelName
            self.kerasVersion = nil
        } else {
            let file = try HDF5File(path: target)
            let layout = try TFCheckpoint.layout(of: file)
            switch layout {
            case .shard:
                try reader.planShard(file, modelName: nil)
            case .layerGroups:
                try reader.planLayerGroups(file)
            }
            self.files = [target]
            self.modelName = reader.modelName
            self.kerasVersion = try file.strings(attribute: "keras_version", of: "/")?.first
        }
        // Every listed dataset's declared size is known before any is read: bound the whole checkpoint first, so a
        // compressed dataset claiming gigabytes of zeros is refused before libhdf5 inflates it.
        try HDF5File.checkDecodeBudget(reader.planned.map(\.info), fileBytes: reader.fileBytes, path: target)
        try reader.readPlanned()
        try reader.crossCheck()
        self.weights = reader.weights
    }

    /// Whether `file` looks like a Keras weights file or shard (a root `layer_names` or `layer_names0` attribute).
    public static func isKerasWeights(_ file: HDF5File) throws(HDF5Error) -> Bool {
        if try file.hasAttribute("layer_names", of: "/") { return true }
        return try file.hasAttribute("layer_names0", of: "/")
    }

    // MARK: name conversion

    /// transformers 4.x `convert_tf_weight_name_to_pt_weight_name` (with no prefix removal): drops `:0`, rewrites
    /// `a___b` components to `b` and `_._` to `/`, collapses empty levels, drops level 0 (the model name), picks the
    /// transpose from the last component and the rank, and renames `kernel|embeddings|gamma` → `weight`, `beta` →
    /// `bias`, `pointwise_kernel`/`depthwise_kernel` → `pointwise.weight`/`depthwise.weight`.
    public static func pytorchName(tfName: String, rank: Int) -> (name: String, transpose: TFWeightTranspose) {
        var name = tfName.replacing(":0", with: "")
        // re.sub(r"/[^/]*___([^/]*)/", r"/\1/"): non-overlapping, so a rewritten component consumes its slash.
        var parts = name.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        var i = 1
        while i < parts.count - 1 {
            if let tail = parts[i].suffixAfterLast("___") {
                parts[i] = tail
                i += 2
            } else {
                i += 1
            }
        }
        name = parts.joined(separator: "/").replacing("_._", with: "/")
        while name.contains("//") { name = name.replacing("//", with: "/") }
        var levels = name.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if levels.count > 1 { levels.removeFirst() }
        let last = levels[levels.count - 1]
        let transpose: TFWeightTranspose
        if last == "kernel" && rank == 4 {
            transpose = .conv2D
        } else if last == "kernel" && rank == 3 {
            transpose = .conv1D
        } else if ["kernel", "pointwise_kernel", "depthwise_kernel"].contains(last) || levels.contains("emb_projs")
            || levels.contains("out_projs")
        {
            transpose = .simple
        } else {
            transpose = .none
        }
        switch last {
        case "kernel", "embeddings", "gamma": levels[levels.count - 1] = "weight"
        case "beta": levels[levels.count - 1] = "bias"
        case "pointwise_kernel", "depthwise_kernel":
            levels[levels.count - 1] = last.replacing("_kernel", with: ".weight")
        default: break
        }
        return (levels.joined(separator: "."), transpose)
    }

    /// `numpy.transpose(values.reshape(shape), axes)` in row-major order (the transposes of `TFWeightTranspose`).
    public static func permuted(_ values: [Float], shape: [Int], axes: [Int]) -> (shape: [Int], values: [Float]) {
        WeightCollector.permute(values, shape: shape, axes: axes)
    }

    /// transformers' `strip_model_name_and_prefix`: the dataset name a shard uses for a full variable name.
    public static func shardDatasetName(tfName: String) -> String {
        let parts = tfName.split(separator: "/", omittingEmptySubsequences: false)
        guard !tfName.contains("model."), parts.count > 1 else { return tfName }
        return parts.dropFirst().joined(separator: "/")
    }

    // MARK: file layouts

    enum Layout { case layerGroups, shard }

    static func layout(of file: HDF5File) throws(HDF5Error) -> Layout {
        guard let layers = try attributeList(file, "layer_names", of: "/") else {
            throw HDF5Error(path: file.path, object: "/", problem: .notKerasWeights(
                "the root has no \"layer_names\" attribute (nor layer_names0…)"))
        }
        guard let first = layers.first else { return .layerGroups }
        return try file.kind(of: "/" + first) == .dataset ? .shard : .layerGroups
    }

    /// Keras/transformers `load_attributes_from_hdf5_group`: `name`, or the concatenation of `name0`, `name1`, …
    static func attributeList(_ file: HDF5File, _ name: String, of object: String) throws(HDF5Error) -> [String]? {
        if let whole = try file.strings(attribute: name, of: object) { return whole }
        var parts: [String] = []
        var k = 0
        while let part = try file.strings(attribute: "\(name)\(k)", of: object) {
            parts += part
            k += 1
        }
        return k == 0 ? nil : parts
    }

    struct ShardIndex {
        var files: [String]
        var weightMap: [(String, String)]
        var modelName: String?
    }

    static func shardFiles(index: String) throws(HDF5Error) -> ShardIndex {
        let json: JSONValue
        do {
            json = try JSONFile.read(index)
        } catch {
            throw HDF5Error(path: index, object: nil, problem: .invalidIndex(error.reason))
        }
        guard let map = json["weight_map"]?.object else {
            throw HDF5Error(path: index, object: nil, problem: .invalidIndex("no \"weight_map\" object"))
        }
        let folder = index.contains("/") ? String(index[..<index.lastIndex(of: "/")!]) : "."
        var files: [String] = []
        var entries: [(String, String)] = []
        var modelNames = Set<String>()
        for (name, value) in map {
            guard let shard = value.string, !shard.isEmpty, !shard.contains("/"), !shard.hasPrefix(".") else {
                throw HDF5Error(path: index, object: name, problem: .invalidIndex(
                    "shard file \(value.string.map { "\"\($0)\"" } ?? "(not a string)") is not a plain file name in the index's folder"))
            }
            let full = folder + "/" + shard
            if !files.contains(full) { files.append(full) }
            entries.append((name, shard))
            if !name.contains("model."), let first = name.split(separator: "/").first, name.contains("/") {
                modelNames.insert(String(first))
            }
        }
        guard !files.isEmpty else { throw HDF5Error(path: index, object: nil, problem: .invalidIndex("empty weight_map")) }
        files.sort()
        return ShardIndex(files: files, weightMap: entries, modelName: modelNames.count == 1 ? modelNames.first : nil)
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    static func isRegularFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }
}

/// Lists the datasets to read (with their checked sizes) and then reads them, converting each weight, enforcing the
/// per-weight shape rules and name uniqueness.
struct WeightCollector {
    /// A listed dataset, checked (it exists, holds floats, sizes within bounds) but not yet read.
    struct Planned {
        let file: HDF5File
        let dataset: String
        let tfName: String
        let name: String
        let transpose: TFWeightTranspose
        let info: HDF5DatasetInfo
    }

    let origin: String
    var planned: [Planned] = []
    /// Bytes on disk of the files planned from.
    var fileBytes: UInt64 = 0
    var weights: [TFCheckpoint.Weight] = []
    var tfNames = Set<String>()
    var modelName: String?
    private var index: [String: Int] = [:]

    init(origin: String) { self.origin = origin }

    mutating func planLayerGroups(_ file: HDF5File) throws(HDF5Error) {
        fileBytes += file.fileSize
        let layers = try TFCheckpoint.attributeList(file, "layer_names", of: "/") ?? []
        var groups = layers
        if try file.kind(of: "/top_level_model_weights") == .group, !groups.contains("top_level_model_weights") {
            groups.append("top_level_model_weights")
        }
        for layer in groups {
            let group = "/" + layer
            guard let kind = try file.kind(of: group) else {
                throw HDF5Error(path: file.path, object: group, problem: .notKerasWeights(
                    "layer_names lists \"\(printableUntrusted(layer))\" but the file has no group for it"))
            }
            guard kind == .group else { throw HDF5Error(path: file.path, object: group, problem: .notAGroup(kind.rawValue)) }
            guard let names = try TFCheckpoint.attributeList(file, "weight_names", of: group) else {
                throw HDF5Error(path: file.path, object: group, problem: .missingAttribute("weight_names"))
            }
            for tfName in names {
                let first = tfName.split(separator: "/").first.map(String.init)
                if modelName == nil, tfName.contains("/") { modelName = first }
                try plan(file: file, dataset: group + "/" + tfName, tfName: tfName)
            }
        }
    }

    /// A shard: datasets at the root under names without the model component (`strip_model_name_and_prefix`).
    mutating func planShard(_ file: HDF5File, modelName: String?) throws(HDF5Error) {
        fileBytes += file.fileSize
        self.modelName = modelName
        guard let names = try TFCheckpoint.attributeList(file, "layer_names", of: "/") else {
            throw HDF5Error(path: file.path, object: "/", problem: .notKerasWeights(
                "the shard's root has no \"layer_names\" attribute"))
        }
        for name in names {
            // Restore a level 0 for the name conversion, which drops it (shard names already lack it).
            let tfName = name.contains("model.") || !name.contains("/") ? name : "\(modelName ?? "model")/\(name)"
            try plan(file: file, dataset: "/" + name, tfName: tfName, indexName: name)
        }
    }

    private mutating func plan(file: HDF5File, dataset: String, tfName: String, indexName: String? = nil) throws(HDF5Error) {
        guard try file.kind(of: dataset) != nil else {
            throw HDF5Error(path: file.path, object: dataset, problem: .missingWeight(
                "\"\(printableUntrusted(tfName))\" is listed in \(indexName == nil ? "weight_names" : "layer_names") but the file has no such object"))
        }
        let info = try file.datasetInfo(dataset)
        guard case .float = info.elementType else {
            throw HDF5Error(path: file.path, object: dataset, problem: .unsupportedElementType(info.elementType.description))
        }
        let (name, transpose) = TFCheckpoint.pytorchName(tfName: tfName, rank: info.shape.count)
        if let previous = index[name] {
            throw HDF5Error(path: file.path, object: dataset, problem: .duplicateName(
                "maps to \(name), like \(planned[previous].dataset)"))
        }
        index[name] = planned.count
        planned.append(Planned(file: file, dataset: dataset, tfName: tfName, name: name, transpose: transpose, info: info))
        // The shard index lists full names; remember the shard spelling too for its completeness check.
        if let indexName { tfNames.insert(indexName) }
        tfNames.insert(tfName)
    }

    /// Reads every planned dataset, in plan order.
    mutating func readPlanned() throws(HDF5Error) {
        weights.reserveCapacity(planned.count)
        for p in planned {
            let (info, values) = try p.file.floats(p.dataset)
            let (shape, arranged) = try Self.arrange(values, shape: info.shape, transpose: p.transpose, name: p.name,
                                                     tfName: p.tfName, file: p.file.path)
            guard case let .float(dtype) = info.elementType else { preconditionFailure("floats() returns float data only") }
            weights.append(TFCheckpoint.Weight(name: p.name, shape: shape, values: arranged, tfName: p.tfName,
                                               tfShape: info.shape, transpose: p.transpose, file: p.file.path,
                                               dataset: p.dataset, storedDType: dtype))
        }
    }

    /// Shape rules of the TF layout, then the transpose into PyTorch layout.
    static func arrange(_ values: [Float], shape: [Int], transpose: TFWeightTranspose, name: String, tfName: String,
                        file: String) throws(HDF5Error) -> ([Int], [Float]) {
        func bad(_ why: String) -> HDF5Error { HDF5Error(path: file, object: tfName, problem: .invalidShape(why)) }
        let last = tfName.replacing(":0", with: "").split(separator: "/").last.map(String.init) ?? tfName
        switch last {
        case "kernel":
            guard shape.count >= 2 else { throw bad("a kernel must have rank 2 (Dense), 3 (Conv1D) or 4 (Conv2D), got \(shape)") }
        case "gamma", "beta", "bias":
            guard shape.count == 1 else { throw bad("\(last) must be a vector, got \(shape)") }
        case "weight_g":
            guard shape.count == 3, shape[1] == 1, shape[2] == 1 else {
                throw bad("weight_g of a weight-norm conv must be [K, 1, 1] (TF layout), got \(shape)")
            }
            return ([1, 1, shape[0]], values)  // apply_transpose reshapes to PyTorch's [1, 1, K]
        case "weight_v":
            guard shape.count == 3 else { throw bad("weight_v must be [out, in/groups, K], got \(shape)") }
        default: break
        }
        switch transpose {
        case .none: return (shape, values)
        case .simple: return permute(values, shape: shape, axes: Array((0..<shape.count).reversed()))
        case .conv1D: return permute(values, shape: shape, axes: [2, 1, 0])
        case .conv2D: return permute(values, shape: shape, axes: [3, 2, 0, 1])
        }
    }

    /// numpy.transpose(values.reshape(shape), axes), row-major.
    static func permute(_ values: [Float], shape: [Int], axes: [Int]) -> ([Int], [Float]) {
        let rank = shape.count
        guard rank > 1 else { return (shape, values) }
        let outShape = axes.map { shape[$0] }
        var inStrides = [Int](repeating: 1, count: rank)
        for d in stride(from: rank - 2, through: 0, by: -1) { inStrides[d] = inStrides[d + 1] * shape[d + 1] }
        let strides = axes.map { inStrides[$0] }  // input stride of each output axis
        var out = [Float](repeating: 0, count: values.count)
        guard !values.isEmpty else { return (outShape, out) }
        values.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                var counter = [Int](repeating: 0, count: rank)
                var offset = 0
                let innerCount = outShape[rank - 1]
                let innerStride = strides[rank - 1]
                var o = 0
                while o < dst.count {
                    var s = offset
                    for _ in 0..<innerCount {
                        dst[o] = src[s]
                        o += 1
                        s += innerStride
                    }
                    // Advance the outer counters (odometer over axes 0..<rank-1).
                    var d = rank - 2
                    while d >= 0 {
                        counter[d] += 1
                        offset += strides[d]
                        if counter[d] < outShape[d] { break }
                        offset -= strides[d] * outShape[d]
                        counter[d] = 0
                        d -= 1
                    }
                }
            }
        }
        return (outShape, out)
    }

    /// Checks between weights: a weight-norm conv's `weight_v` kernel size must equal its `weight_g` length.
    func crossCheck() throws(HDF5Error) {
        for w in weights where w.name.hasSuffix(".weight_g") {
            let vName = String(w.name.dropLast("weight_g".count)) + "weight_v"
            guard let i = index[vName] else { continue }
            let v = weights[i]
            guard v.shape.last == w.shape.last else {
                throw HDF5Error(path: v.file, object: v.tfName, problem: .invalidShape(
                    "weight_v \(v.shape) has kernel size \(v.shape.last ?? 0) but weight_g has \(w.shape.last ?? 0)"))
            }
        }
    }
}

extension String {
    /// The text after the last occurrence of `separator`, or nil if it does not occur.
    fileprivate func suffixAfterLast(_ separator: String) -> String? {
        let text = Array(utf8)
        let pattern = Array(separator.utf8)
        guard text.count >= pattern.count else { return nil }
        var start = text.count - pattern.count
        while start >= 0 {
            if Array(text[start..<(start + pattern.count)]) == pattern {
                return String(decoding: text[(start + pattern.count)...], as: UTF8.self)
            }
            start -= 1
        }
        return nil
    }
}
