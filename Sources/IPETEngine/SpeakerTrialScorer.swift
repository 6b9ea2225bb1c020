import Foundation
import IPETTensor

/// Scores trial lists from in-memory embeddings, with optional s-norm / AS-norm.
public struct SpeakerTrialScorer: Sendable {
    public let rule: SpeakerScoringRule
    public let embeddings: SpeakerEmbeddingTable

    public init(embeddings: SpeakerEmbeddingTable, rule: SpeakerScoringRule) {
        self.embeddings = embeddings
        self.rule = rule
    }

    /// - Parameters:
    ///   - embeddings: `[utterance key: [segments][dim]]`, keys as in the trial list.
    ///   - rule: how two utterances' segments become one score.
    public init(embeddings: [String: [[Float]]], rule: SpeakerScoringRule) throws(EngineError) {
        self.init(embeddings: try SpeakerEmbeddingTable(embeddings), rule: rule)
    }

    /// One raw score per trial, in order. Throws when an utterance has no embedding.
    public func scores(_ trials: [VerificationTrial]) throws(EngineError) -> [Double] {
        let pairs = try resolve(trials)
        var out = [Double](repeating: 0, count: trials.count)
        let rule = self.rule
        embeddings.withView { view in
            out.withUnsafeMutableBufferPointer { buffer in
                let result = SendablePointer(buffer.baseAddress!)
                let ranges = ComputeThreads.ranges(pairs.count, minimum: 4096)
                pairs.withUnsafeBufferPointer { pairs in
                    let pairs = SendablePointer(pairs.baseAddress!)
                    ComputeThreads.parallelFor(ranges.count) { chunk in
                        for t in ranges[chunk] {
                            let (e, s) = pairs.pointer[t]
                            result.pointer[t] = view.score(e, view, s, rule: rule)
                        }
                    }
                }
            }
        }
        return out
    }

    /// Scores normalised with `cohort` (the same rule scores every trial utterance against every cohort utterance;
    /// cost: trial utterances × cohort utterances scores, spread over `ComputeThreads`).
    public func normalizedScores(
        _ trials: [VerificationTrial], cohort: SpeakerEmbeddingTable, normalization: ScoreNormalization
    ) throws(EngineError) -> [Double] {
        guard cohort.count >= 2 else {
            throw EngineError("score normalisation needs at least 2 cohort utterances, got \(cohort.count)")
        }
        guard cohort.dimension == embeddings.dimension else {
            throw EngineError(
                "cohort embeddings have dimension \(cohort.dimension) but trial embeddings \(embeddings.dimension)")
        }
        let take: Int
        switch normalization {
        case .symmetric: take = cohort.count
        case let .adaptive(topN):
            guard topN >= 2, topN <= cohort.count else {
                throw EngineError(
                    "AS-norm top-N must be between 2 and the cohort size \(cohort.count), got \(topN)")
            }
            take = topN
        }
        let raw = try scores(trials)
        let pairs = try resolve(trials)

        // Cohort statistics for the utterances the trials use.
        var used = [Bool](repeating: false, count: embeddings.count)
        for (e, t) in pairs {
            used[e] = true
            used[t] = true
        }
        let utterances = used.indices.filter { used[$0] }
        var mean = [Double](repeating: 0, count: embeddings.count)
        var deviation = [Double](repeating: 0, count: embeddings.count)
        let rule = self.rule
        embeddings.withView { view in
            cohort.withView { cohortView in
                mean.withUnsafeMutableBufferPointer { meanBuffer in
                    deviation.withUnsafeMutableBufferPointer { deviationBuffer in
                        let (meanOut, deviationOut) = (SendablePointer(meanBuffer.baseAddress!), SendablePointer(deviationBuffer.baseAddress!))
                        let ranges = ComputeThreads.ranges(utterances.count)
                        ComputeThreads.parallelFor(ranges.count) { chunk in
                            var scratch = [Double](repeating: 0, count: cohortView.count)
                            for u in ranges[chunk].map({ utterances[$0] }) {
                                for c in 0..<scratch.count { scratch[c] = view.score(u, cohortView, c, rule: rule) }
                                if take < scratch.count { scratch.sort(by: >) }
                                let top = scratch[0..<take]
                                let mu = top.reduce(0, +) / Double(take)
                                let variance = top.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / Double(take)
                                meanOut.pointer[u] = mu
                                deviationOut.pointer[u] = variance.squareRoot()
                            }
                        }
                    }
                }
            }
        }
        if let flat = utterances.first(where: { deviation[$0] == 0 }) {
            throw EngineError(
                "the cohort scores of \"\(embeddings.keys[flat])\" are all equal, so they cannot normalise its scores")
        }
        return zip(raw, pairs).map { s, pair in
            let (e, t) = pair
            return 0.5 * ((s - mean[e]) / deviation[e] + (s - mean[t]) / deviation[t])
        }
    }

    private func resolve(_ trials: [VerificationTrial]) throws(EngineError) -> [(Int, Int)] {
        var pairs: [(Int, Int)] = []
        pairs.reserveCapacity(trials.count)
        for (n, trial) in trials.enumerated() {
            guard let e = embeddings.index(trial.enrol) else { throw missing(trial.enrol, n) }
            guard let t = embeddings.index(trial.test) else { throw missing(trial.test, n) }
            pairs.append((e, t))
        }
        return pairs
    }

    private func missing(_ key: String, _ trial: Int) -> EngineError {
        EngineError("no embedding for utterance \"\(key)\" (trial \(trial + 1))")
    }
}
