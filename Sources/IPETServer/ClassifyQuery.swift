import Hummingbird
import IPETEngine

/// What `POST /v1/classify` asks for, with the same meanings and bounds as `ipet predict`'s options.
struct ClassifyQuery {
    var packs: [String]
    var topK = 5
    var logits = false
    var window: Double?
    var hop: Double?
    var perWindow = false

    static let names: Set<String> = ["pack", "top_k", "logits", "window", "hop", "per_window"]

    init(_ query: QueryParameters) throws(ServerError) {
        packs = query.all("pack")
        if let dup = packs.first(where: { name in packs.filter { $0 == name }.count > 1 }) {
            throw ServerError(.badRequest, "pack \"\(dup)\" is named twice")
        }
        topK = try query.int("top_k", in: 0...100_000) ?? 5
        logits = try query.bool("logits")
        // The same bounds as the command line's: a 50 ms window is the shortest every model can analyse.
        window = try query.seconds("window", in: 0.05...3600, allowZero: true)
        hop = try query.seconds("hop", in: 0.01...3600, allowZero: false)
        perWindow = try query.bool("per_window")
    }

    func options(maxBatch: Int, maxAudioSeconds: Double) -> BatchRunner.Options {
        var options = BatchRunner.Options(window: window, hop: hop, perWindow: perWindow, batchSize: maxBatch)
        options.maximumSeconds = maxAudioSeconds
        return options
    }
}
