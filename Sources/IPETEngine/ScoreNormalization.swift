import Foundation
import IPETTensor

/// Score normalisation with a cohort (a set of utterances from speakers outside the trial list).
///
/// For a raw score s of (enrol e, test t): s' = ½ · ((s − μ_e) / σ_e + (s − μ_t) / σ_t), where μ_e and σ_e are the
/// mean and standard deviation (population, ddof 0, as numpy's `std` in wespeaker's `score_norm.py`) of the scores
/// of e against the cohort under the same rule, and likewise for t.
public enum ScoreNormalization: Sendable, Equatable {
    /// s-norm: statistics over every cohort utterance.
    case symmetric
    /// Adaptive s-norm (AS-norm): statistics over the `topN` highest cohort scores of each side separately
    /// (2 ≤ topN ≤ cohort size).
    case adaptive(topN: Int)
}
