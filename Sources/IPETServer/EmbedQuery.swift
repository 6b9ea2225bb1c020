import Hummingbird
import IPETModels

/// What `POST /v1/embed` asks for: a speaker pack's embedding (IPET's segment protocol), or the backbone's own
/// (`layer`, `pooled`, else automatic), as `ipet embed` takes them.
struct EmbedQuery {
    var pack: String?
    var segments: Int?
    var kind: BackboneEmbedding = .automatic

    static let names: Set<String> = ["pack", "segments", "layer", "pooled"]

    init(_ query: QueryParameters) throws(ServerError) {
        pack = try query.single("pack")
        segments = try query.int("segments", in: 0...1000)
        let layer = try query.int("layer", in: 0...10_000)
        let pooled = try query.bool("pooled")
        guard !(pooled && layer != nil) else { throw ServerError(.badRequest, "layer and pooled exclude each other") }
        guard pack == nil || (layer == nil && !pooled) else { throw ServerError(.badRequest, "layer and pooled do not apply to packs") }
        guard pack != nil || segments == nil else { throw ServerError(.badRequest, "segments needs a pack") }
        kind = pooled ? .pooled : layer.map { .layer($0) } ?? .automatic
    }
}
