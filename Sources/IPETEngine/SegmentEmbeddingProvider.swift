import IPETModels
import IPETTensor

/// The `EmbeddingProvider` of real audio: loads the backbone and the speaker pack once, then gives each file's
/// segment embeddings by IPET's protocol (`SegmentEmbedder`: 5 linearly spaced segments, L2-normalised;
/// `docs/ipet-method.md` §4.4).
public final class SegmentEmbeddingProvider: EmbeddingProvider {
    private let embedder: SegmentEmbedder
    private let sampleRate: Int
    private let workspace = Workspace()

    /// - Parameters:
    ///   - backbone: a model folder or converted file.
    ///   - pack: the speaker pack; required (a backbone alone has no speaker head).
    public init(backbone: String, pack: String?) throws {
        guard let pack else {
            throw EngineError("computing speaker embeddings needs a speaker pack with the backbone", remedy: .givePack)
        }
        let model = try Backbone.load(backbone)
        embedder = SegmentEmbedder(task: try TaskModel(backbone: model, pack: try AdapterPack(path: pack)))
        sampleRate = model.sampleRate
    }

    public func segmentEmbeddings(audioFile path: String) throws -> [[Float]] {
        try embedder.embed(try AudioInput.load(path, sampleRate: sampleRate), source: path, workspace: workspace)
    }
}
