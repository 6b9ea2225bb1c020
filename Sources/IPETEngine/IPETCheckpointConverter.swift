import Foundation
import IPETFormats
import IPETModels
import IPETTensor

/// Extracts an adapter pack from a whole tuned model saved with the official IPET code's module names
/// (wngh1187/IPET), after checking that the checkpoint's frozen part equals the given backbone.
///
/// AST (timm names under `v.`): prompts `embedding_prompt{i}` `[1, k, D]`, adapters
/// `v.blocks.{i}.adaptmlp.{down,up}_proj`, head `mlp_head.0` (LayerNorm) / `mlp_head.1` (Linear) on the pooled
/// CLS/distillation output; the stored `v.pos_embed` is the backbone's table already adapted to the task's frame
/// count, and must equal our adaptation of it. wav2vec 2.0 (transformers names under `wav2vec2.`): prompts
/// `wav2vec2.encoder.layers.{i}.embed_prompt`, adapters `….adapter.{down,up}_proj` (called with the residual copy,
/// so packs get `adapter_residual: true`), head `mlp_head.0/1` on mean‖std pooling.
public enum IPETCheckpointConverter {
    public struct Options: Sendable {
        public var labels: [String]?
        /// AST input frames the task was trained with; default: the checkpoint's `args.frame_length`, else the
        /// smallest frame count giving the stored position table.
        public var frames: Int?
        public var mean: Double?
        public var std: Double?
        public var adapterScale: Float?
        public var dtype: DType = .f32
        /// Largest difference tolerated between the checkpoint's frozen tensors and the backbone's.
        public var tolerance: Float = 1e-6

        public init() {}
    }

    public struct Result: Sendable {
        public let promptTokens: Int
        public let bottleneck: Int
        public let labels: Int
        public let comparedTensors: Int
    }

    /// Reads the checkpoint's tensors (a flat state dict, or `model` plus `classification_head`/`head` entries),
    /// with `module.` prefixes removed.
    static func readTensors(_ path: String) throws -> (tensors: [String: Tensor], args: [String: Double]) {
        guard CheckpointFileFormat.detect(path) == .torch else {
            let read = try CheckpointFileFormat.read(path)
            return (Dictionary(uniqueKeysWithValues: try read.tensors.map { ($0.name, try $0.load()) }), [:])
        }
        var tensors: [String: Tensor] = [:]
        let main = try TorchCheckpoint(path: path)
        var paths: [[String]] = [main.stateDictPath]
        if main.stateDictPath == ["model"] {
            for key in ["classification_head", "head"] {
                if let other = try? TorchCheckpoint(path: path, options: .init(stateDictPath: [key])) { paths.append(other.stateDictPath) }
            }
        }
        for p in paths {
            let file = p == main.stateDictPath ? main : try TorchCheckpoint(path: path, options: .init(stateDictPath: p))
            for info in file.tensors where info.dtype.isFloatConvertible {
                tensors[info.name] = Tensor(shape: info.shape, values: try file.floats(info))
            }
        }
        // Training arguments, when saved beside the weights (frame length, dataset statistics, adapter scale).
        var args: [String: Double] = [:]
        for entry in main.root["args"]?.dict?.entries ?? [] {
            guard let name = entry.key.string else { continue }
            switch entry.value {
            case let .int(i): args[name] = Double(i)
            case let .float(f): args[name] = f
            case let .string(s): if let d = Double(s) { args[name] = d }
            default: break
            }
        }
        return (tensors, args)
    }

    public static func convert(checkpoint path: String, backbone: Backbone, output: String, options: Options = Options()) throws -> Result {
        let (all, args) = try readTensors(path)
        func fail(_ m: String, remedy: EngineError.Remedy? = nil) -> EngineError { EngineError(path: path, m, remedy: remedy) }
        let (d, layers, heads) = backbone.sizes
        /// The checkpoint's `args.frame_length` (training input length), when it is a sane whole number.
        func frameLength() throws -> Int? {
            guard let v = args["frame_length"] else { return nil }
            guard v.isFinite, v == v.rounded(), v >= 1, v <= 100_000 else { throw fail("args.frame_length \(v) is not a frame count") }
            return Int(v)
        }
        var packTensors: [(String, Tensor)] = []
        var frozen: [(String, Tensor)] = []
        var k = 0, b = 0
        var headNorm: (Tensor, Tensor)?, headLinear: (Tensor, Tensor)?
        var preprocessing: [(key: String, value: JSONValue)] = [("sampling_rate", .int(backbone.sampleRate))]
        let residual: Bool
        for (name, t) in all {
            if let rest = name.range(of: "mlp_head.")?.upperBound {
                switch String(name[rest...]) {
                case "0.weight": headNorm = (t, headNorm?.1 ?? t)
                case "0.bias": headNorm = (headNorm?.0 ?? t, t)
                case "1.weight": headLinear = (t, headLinear?.1 ?? t)
                case "1.bias": headLinear = (headLinear?.0 ?? t, t)
                default: throw fail("unexpected head tensor \(name)")
                }
            }
        }
        guard let norm = headNorm, let linear = headLinear, linear.0.rank == 2 else {
            throw fail("no mlp_head.0 / mlp_head.1 (the IPET head) in the checkpoint")
        }
        switch backbone.architecture {
        case .ast:
            residual = false
            for l in 0..<layers {
                if let p = all["embedding_prompt\(l)"] {
                    guard p.count > 0, p.count % d == 0 else { throw fail("embedding_prompt\(l) has shape \(p.shape), not [1, k, \(d)]") }
                    k = p.count / d
                    packTensors.append(("prompts.\(l)", p.reshaped([k, d])))
                }
                for part in ["down", "up"] {
                    for leaf in ["weight", "bias"] {
                        if let t = all["v.blocks.\(l).adaptmlp.\(part)_proj.\(leaf)"] {
                            packTensors.append(("adapters.\(l).\(part).\(leaf)", t))
                            if part == "down" && leaf == "bias" { b = t.count }
                        }
                    }
                }
            }
            frozen = all.filter { $0.key.hasPrefix("v.") && !$0.key.contains(".adaptmlp.") && !$0.key.hasPrefix("v.head") }.map { ($0.key, $0.value) }
            let store = WeightStore(source: path)
            try TimmAST.insert(frozen.map { name, t in SourceTensor(name: name, shape: t.shape, dtype: .f32, load: { t }) }, into: store, source: path)
            guard case let .ast(model) = backbone.model else { throw fail("backbone is not an AST") }
            // The position table is the backbone's adapted to the task's length: recover the frame count from it.
            let positionName = NameMap.astPrefix + "embeddings.position_embeddings"
            guard let table = store.tensors[positionName] else { throw fail("no v.pos_embed") }
            let tokens = table.count / d
            let fPatches = model.config.frequencyPatches
            guard (tokens - 2) % fPatches == 0 else { throw fail("v.pos_embed has \(tokens) tokens, not 2 + \(fPatches)·t") }
            let t = (tokens - 2) / fPatches
            let frames = try options.frames ?? frameLength() ?? (t - 1) * model.config.timeStride + model.config.patchSize
            guard model.config.timePatches(frames: frames) == t else {
                throw fail("\(frames) frames give \(model.config.timePatches(frames: frames)) time patches, the checkpoint has \(t)", remedy: .giveFrames)
            }
            let expected = try model.positionEmbeddings(forFrames: frames)
            let diff = maxDifference(expected, table.reshaped([tokens, d]))
            guard diff <= max(options.tolerance, 1e-5) else {
                throw fail("v.pos_embed differs from the backbone's position table adapted to \(frames) frames by \(diff)")
            }
            store.remove(positionName)
            try compare(store, with: backbone, path: path, tolerance: options.tolerance, except: [positionName])
            preprocessing += [("num_mel_bins", .int(model.config.melBins)), ("max_length", .int(frames)),
                              ("mean", .double(options.mean ?? args["dataset_mean"] ?? backbone.spectrogram!.mean)),
                              ("std", .double(options.std ?? args["dataset_std"] ?? backbone.spectrogram!.std)),
                              ("do_normalize", .bool(true))]
            frozen = store.tensors.map { ($0.key, $0.value) }
        case .wav2vec2:
            residual = true
            for l in 0..<layers {
                let q = "wav2vec2.encoder.layers.\(l)."
                if let p = all[q + "embed_prompt"] {
                    guard p.count > 0, p.count % d == 0 else { throw fail(q + "embed_prompt has shape \(p.shape), not [1, k, \(d)]") }
                    k = p.count / d
                    packTensors.append(("prompts.\(l)", p.reshaped([k, d])))
                }
                for part in ["down", "up"] {
                    for leaf in ["weight", "bias"] {
                        if let t = all[q + "adapter.\(part)_proj.\(leaf)"] {
                            packTensors.append(("adapters.\(l).\(part).\(leaf)", t))
                            if part == "down" && leaf == "bias" { b = t.count }
                        }
                    }
                }
            }
            let store = WeightStore(source: path)
            for (name, t) in all where !name.contains(".embed_prompt") && !name.contains(".adapter.") && !name.contains("mlp_head.") {
                if let c = NameMap.canonical(name, architecture: .wav2vec2), BackboneFingerprint.isBackboneTensor(c, architecture: .wav2vec2) {
                    store.insert(t, canonical: c, original: name)
                }
            }
            try compare(store, with: backbone, path: path, tolerance: options.tolerance)
            frozen = store.tensors.map { ($0.key, $0.value) }
            preprocessing += [("do_normalize", .bool(false)),
                              ("crop_samples", try frameLength().map { JSONValue.int($0 * 160) } ?? .null)]
        }
        _ = frozen
        let inDim = backbone.architecture == .ast ? d : 2 * d
        guard norm.0.count == inDim, linear.0.shape[1] == inDim else {
            throw fail("mlp_head expects \(linear.0.shape[1]) inputs; the \(backbone.architecture.rawValue) head pools \(inDim)")
        }
        let classes = linear.0.shape[0]
        let labels = options.labels ?? (0..<classes).map { "LABEL_\($0)" }
        guard labels.count == classes else { throw fail("\(labels.count) labels for a head with \(classes) outputs") }
        packTensors += [("head.norm.weight", norm.0), ("head.norm.bias", norm.1), ("head.linear.weight", linear.0), ("head.linear.bias", linear.1)]
        let scale = options.adapterScale ?? args["adapter_scalar"].map(Float.init) ?? 0.1
        guard scale.isFinite else { throw fail("args.adapter_scalar is not a finite number") }
        guard !frozen.isEmpty else {
            throw fail("no frozen backbone tensors in the checkpoint, so nothing shows it was tuned from \(backbone.source)")
        }
        let writer = AdapterPackWriter(
            backbone: backbone, backboneName: backbone.source, promptTokens: k, bottleneck: b, adapterScale: Double(scale),
            adapterResidual: residual,
            head: AdapterPackWriter.head(backbone.architecture == .ast ? .astPooled : .meanStd, labels: labels,
                                         pooling: .native(to: backbone.architecture)),
            preprocessing: preprocessing,
            provenance: .object([("converted_from", .string(path)), ("converter", .string("ipet convert --ipet-checkpoint"))]),
            dtype: options.dtype)
        // Written beside the target and loaded as any pack is (metadata ranges, every implied tensor with its shape,
        // finite values, the backbone match); only a pack that passes replaces `output`.
        do {
            try writer.write(packTensors.map { (name: $0.0, tensor: $0.1) }, to: output)
        } catch {
            throw fail("the checkpoint does not make a valid pack: \(detail(of: error, about: output))")
        }
        return Result(promptTokens: k, bottleneck: b, labels: classes, comparedTensors: frozen.count)
    }

    /// Every frozen tensor must exist in the backbone with the same shape and values (within `tolerance`), and every
    /// backbone tensor must be among them (`except` the ones compared separately).
    static func compare(_ store: WeightStore, with backbone: Backbone, path: String, tolerance: Float, except: Set<String> = []) throws {
        let expected = backbone.weights.names.filter {
            BackboneFingerprint.isBackboneTensor($0, architecture: backbone.architecture) && !except.contains($0)
        }
        let absent = expected.filter { store.tensors[$0] == nil }
        if let first = absent.first {
            throw EngineError(path: path, "the checkpoint lacks \(absent.count) of the backbone's \(expected.count) frozen tensors "
                            + "(e.g. \(first)), so it cannot be shown to be tuned from \(backbone.source)")
        }
        for (name, t) in store.tensors {
            guard let mine = backbone.weights.tensors[name] else {
                throw EngineError(path: path, "frozen tensor \(store.originalNames[name] ?? name) has no counterpart \(name) in \(backbone.source)")
            }
            guard mine.shape.filter({ $0 != 1 }) == t.shape.filter({ $0 != 1 }) else {
                throw EngineError(path: path, "frozen tensor \(store.originalNames[name] ?? name) has shape \(t.shape), the backbone's \(name) \(mine.shape)")
            }
            let diff = maxDifference(mine, t)
            guard diff <= tolerance else {
                throw EngineError(path: path, "frozen tensor \(store.originalNames[name] ?? name) differs from the backbone's \(name) by \(diff): this checkpoint was not tuned from \(backbone.source)")
            }
        }
    }

    /// Largest |a − b|; infinity when the sizes differ or either side holds a NaN (which `max` would drop).
    static func maxDifference(_ a: Tensor, _ b: Tensor) -> Float {
        guard a.count == b.count else { return .infinity }
        var worst: Float = 0
        for i in 0..<a.count {
            let d = abs(a.data[i] - b.data[i])
            if d.isNaN { return .infinity }
            worst = max(worst, d)
        }
        return worst
    }
}
