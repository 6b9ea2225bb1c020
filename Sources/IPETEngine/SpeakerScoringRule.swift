import Foundation
import IPETTensor

/// How the segment embeddings of two utterances become one score (higher = more likely the same speaker).
///
/// Both rules first L2-normalise every segment embedding as torch's `F.normalize` does: x / max(‖x‖, 1e-12).
public enum SpeakerScoringRule: String, Sendable, CaseIterable {
    /// IPET's rule (`docs/ipet-method.md` §4.4): minus the mean, over all (enrol segment, test segment) pairs, of the Euclidean
    /// distance between the normalised segment embeddings; with IPET's 5 segments per utterance, the mean of a 5×5
    /// distance matrix. For unit vectors ‖a − b‖ = √(2 − 2 cos(a, b)), so each term is a monotone function of
    /// that pair's cosine. Scores lie in [−2, 0].
    case ipet
    /// The cosine between the two utterance vectors, each the mean of its normalised segment embeddings (average
    /// the segments, then cosine, as speaker toolkits score multi-crop embeddings). Not the mean of the pairwise
    /// cosines: that equals the dot product of the same means *without* re-normalising them, which shrinks the
    /// scores of utterances whose segments disagree. With one segment per utterance both are the plain cosine.
    case cosine
}

extension SpeakerScoringRule {
    /// The score of two utterances given as segment embeddings `[segments][dim]` (for one-off use; score trial lists
    /// with `SpeakerTrialScorer`, which normalises each utterance once).
    public func score(_ enrol: [[Float]], _ test: [[Float]]) throws(EngineError) -> Double {
        let table = try SpeakerEmbeddingTable(["enrol": enrol, "test": test])
        return table.withView { $0.score(0, $0, 1, rule: self) }
    }
}
