import Foundation
import IPETFormats

/// HOOK(engine): where speaker embeddings are computed from audio.
///
/// `ipet verify` asks a provider for every utterance whose embedding is not in the cache (`--embeddings`), and for
/// cohort audio. An implementation loads the backbone and speaker pack once, then per file follows IPET's protocol
/// (IPET.md §4.4): 5 linearly spaced segments of the pack's segment length (AST 400 frames, wav2vec 2.0 3 s), one
/// embedding per segment. Returning the segments un-normalised is fine: scoring L2-normalises every segment.
public protocol EmbeddingProvider {
    /// The segment embeddings `[segments][dim]` of the audio file at `path` (one row for a single vector).
    func segmentEmbeddings(audioFile path: String) throws -> [[Float]]
}

/// An `EmbeddingProvider` from a closure (tests, adapters).
public struct ClosureEmbeddingProvider: EmbeddingProvider {
    private let body: (String) throws -> [[Float]]

    public init(_ body: @escaping (String) throws -> [[Float]]) {
        self.body = body
    }

    public func segmentEmbeddings(audioFile path: String) throws -> [[Float]] {
        try body(path)
    }
}

/// Embedding caches: a safetensors file with one float tensor per utterance, named by the utterance key of the trial
/// list, of shape `[segments, dim]` (or `[dim]` for one vector). Any float dtype reads (F32, F16, BF16, F64); we
/// write F32 `[segments, dim]`.
public enum SpeakerEmbeddingFile {
    public static func read(path: String) throws(EngineError) -> [String: [[Float]]] {
        let file: SafeTensorsFile
        do {
            file = try SafeTensorsFile(path: path)
        } catch {
            throw EngineError("\(error)")
        }
        var out: [String: [[Float]]] = [:]
        out.reserveCapacity(file.tensors.count)
        for info in file.tensors {
            let values: [Float]
            do {
                values = try file.floats(info.name)
            } catch {
                throw EngineError("\(error)")
            }
            switch info.shape.count {
            case 1 where info.shape[0] > 0:
                out[info.name] = [values]
            case 2 where info.shape[0] > 0 && info.shape[1] > 0:
                let dim = info.shape[1]
                out[info.name] = (0..<info.shape[0]).map { Array(values[($0 * dim)..<(($0 + 1) * dim)]) }
            default:
                throw EngineError(
                    path: path, "tensor \"\(info.name)\" has shape \(info.shape); an embedding is [segments, dim] or [dim]")
            }
        }
        return out
    }

    /// Writes every utterance as an F32 `[segments, dim]` tensor (sorted by key), atomically.
    public static func write(
        _ embeddings: [String: [[Float]]], to path: String, metadata: [(key: String, value: String)] = []
    ) throws(EngineError) {
        var writer = SafeTensorsWriter(metadata: [("format", "pt")] + metadata)
        for key in embeddings.keys.sorted() {
            let segments = embeddings[key]!
            let dim = segments.first?.count ?? 0
            guard dim > 0, segments.allSatisfy({ $0.count == dim }) else {
                throw EngineError(path: path, "utterance \"\(key)\" has segments of different or zero dimension")
            }
            writer.add(.init(name: key, shape: [segments.count, dim], floats: segments.flatMap { $0 }))
        }
        do {
            try writer.write(to: path)
        } catch {
            throw EngineError("\(error)")
        }
    }
}

/// The embedding cache of one scoring run: read from a file (when it exists), completed by an `EmbeddingProvider`,
/// and written back when it grew, so each utterance is embedded once across runs.
public final class SpeakerEmbeddingCache {
    /// The cache file, or nil to keep everything in memory.
    public let path: String?
    public private(set) var embeddings: [String: [[Float]]] = [:]
    /// Embeddings computed since the last `save`.
    public private(set) var unsaved = 0
    /// The file's string metadata when it was read (where the embeddings came from).
    public private(set) var metadata: [(key: String, value: String)] = []
    private var provider: (any EmbeddingProvider)?

    /// Reads `path` when the file exists; otherwise starts empty.
    public init(path: String?) throws(EngineError) {
        self.path = path
        if let path, FileManager.default.fileExists(atPath: path) {
            embeddings = try SpeakerEmbeddingFile.read(path: path)
            metadata = (try? SafeTensorsFile(path: path))?.metadata ?? []
        }
    }

    /// The keys of `items` that have no embedding yet, in order.
    public func missing(_ keys: [String]) -> [String] {
        keys.filter { embeddings[$0] == nil }
    }

    /// Embeds the audio of every `(key, audio file)` pair whose key is not cached. `makeProvider` runs once, and only
    /// when something is missing (loading a backbone is not free); `progress(done, total)` follows each file.
    /// A failing file throws an error that names it; what was computed before stays in the cache (call `save`).
    public func fill(
        _ items: [(key: String, audio: String)], makeProvider: () throws -> any EmbeddingProvider,
        progress: ((Int, Int) -> Void)? = nil
    ) throws {
        let todo = items.filter { embeddings[$0.key] == nil }
        guard !todo.isEmpty else { return }
        if provider == nil { provider = try makeProvider() }
        for (n, item) in todo.enumerated() {
            let segments: [[Float]]
            do {
                segments = try provider!.segmentEmbeddings(audioFile: item.audio)
            } catch {
                throw EngineError(path: item.audio, detail(of: error, about: item.audio))
            }
            guard let dim = segments.first?.count, dim > 0, segments.allSatisfy({ $0.count == dim }) else {
                throw EngineError(path: item.audio, "the embedding provider returned no or uneven segment embeddings")
            }
            embeddings[item.key] = segments
            unsaved += 1
            progress?(n + 1, todo.count)
        }
    }

    /// The cached embeddings of `keys` (those that have one).
    public func subset(_ keys: [String]) -> [String: [[Float]]] {
        var out: [String: [[Float]]] = [:]
        for key in keys { out[key] = embeddings[key] }
        return out
    }

    /// Rewrites the file (atomically) when embeddings were computed since the last save; a no-op otherwise.
    public func save(metadata: [(key: String, value: String)] = []) throws(EngineError) {
        guard unsaved > 0, let path else { return }
        try SpeakerEmbeddingFile.write(embeddings, to: path, metadata: metadata)
        unsaved = 0
    }
}
