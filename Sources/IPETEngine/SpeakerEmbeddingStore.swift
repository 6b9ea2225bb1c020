import Foundation
import IPETModels
import IPETFormats
import Logging

/// The speaker embeddings one verification run scores: an optional cache file, bound to the speaker pack that
/// made it (its SHA-256 is in the cache's metadata, so embeddings of two packs never mix), completed from audio
/// with a backbone and a speaker pack when both are given, and written back when it grew.
public final class SpeakerEmbeddingStore {
    private let cache: SpeakerEmbeddingCache
    private let backbone: String?
    private let pack: String?
    private let packDigest: String?
    private let logger = Logger(label: "ipet.verify")

    /// - Parameters:
    ///   - cachePath: the cache file (read when it exists); nil keeps everything in memory.
    ///   - backbone: the model folder or file missing embeddings are computed with.
    ///   - pack: the speaker pack they are computed with.
    public init(cachePath: String?, backbone: String?, pack: String?) throws {
        if let cachePath, backbone == nil, !FileManager.default.fileExists(atPath: cachePath) {
            throw EngineError(path: cachePath, "no such file", remedy: .computeEmbeddings)
        }
        cache = try SpeakerEmbeddingCache(path: cachePath)
        self.backbone = backbone
        self.pack = pack
        packDigest = pack.flatMap { try? FileDigest.sha256(path: $0) }  // an unreadable pack is reported when it is loaded
        // Embeddings from another pack (or its backbone) must not be mixed with this one's.
        if let packDigest, let recorded = cache.metadata.first(where: { $0.key == "ipet.pack.sha256" })?.value, recorded != packDigest {
            let other = cache.metadata.first(where: { $0.key == "ipet.pack" })?.value ?? "another pack"
            throw EngineError(path: cachePath ?? "the cache", "its embeddings were computed with \(other) (\(recorded)), not with "
                              + "\(pack!) (\(packDigest))", remedy: .otherEmbeddingCache)
        }
    }

    /// The cache file, if any.
    public var path: String? { cache.path }

    /// Computes the embeddings of the `(key, audio file)` pairs that the cache lacks; `what` names them in
    /// messages ("utterances", "cohort files").
    public func fill(_ items: [(key: String, audio: String)], what: String) throws {
        let missing = cache.missing(items.map(\.key))
        guard !missing.isEmpty else { return }
        guard let backbone else {
            let more = missing.count > 1 ? " and \(missing.count - 1) more" : ""
            throw EngineError(
                "\(missing.count) of \(items.count) \(what) have no embedding in \(cache.path ?? "the cache") (\"\(missing[0])\"\(more))",
                remedy: .computeEmbeddings)
        }
        logger.debug("computing embeddings of \(missing.count) of \(items.count) \(what)")
        let pack = self.pack, logger = self.logger
        try cache.fill(items, makeProvider: { try SegmentEmbeddingProvider(backbone: backbone, pack: pack) }) { done, total in
            if done % 500 == 0 || done == total { logger.debug("\(done) of \(total) \(what) embedded") }
        }
    }

    /// The embeddings of `keys` that the store holds.
    public func embeddings(_ keys: [String]) -> [String: [[Float]]] { cache.subset(keys) }

    /// Rewrites the cache file when embeddings were computed since the last save.
    public func save() throws {
        guard cache.unsaved > 0 else { return }
        try cache.save(metadata: [("ipet.backbone", backbone ?? ""), ("ipet.pack", pack ?? ""), ("ipet.pack.sha256", packDigest ?? ""),
                                  ("ipet.embedding", "speaker segments")])
        if let path = cache.path { logger.debug("wrote \(cache.embeddings.count) embeddings to \(path)") }
    }
}
