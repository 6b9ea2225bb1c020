import Foundation
import IPETFormats

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
