import Foundation
import IPETTensor

/// How the segment embeddings of two utterances become one score (higher = more likely the same speaker).
///
/// Both rules first L2-normalise every segment embedding as torch's `F.normalize` does: x / max(‖x‖, 1e-12).
public enum SpeakerScoringRule: String, Sendable, CaseIterable {
    /// IPET's rule (IPET.md §4.4): minus the mean, over all (enrol segment, test segment) pairs, of the Euclidean
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

/// Utterance embeddings ready to score: every segment L2-normalised once and stored contiguously, plus the
/// unit-length mean of each utterance's normalised segments for `.cosine`.
///
/// Input per utterance: its segment embeddings `[segments][dim]` (one segment for a single vector); every
/// segment of every utterance must have the same dimension and finite values.
public struct SpeakerEmbeddingTable: Sendable {
    public let dimension: Int
    /// Utterance keys, sorted.
    public let keys: [String]
    private let position: [String: Int]
    /// Utterance u owns rows firstRow[u] ..< firstRow[u + 1].
    private let firstRow: [Int]
    /// Normalised segments, row-major [rows, dimension].
    private let rows: [Float]
    /// Per utterance, the unit-length mean of its normalised segments [count, dimension].
    private let centroids: [Double]

    public var count: Int { keys.count }

    public func contains(_ key: String) -> Bool { position[key] != nil }

    /// Number of segments of utterance `key`.
    public func segmentCount(_ key: String) -> Int? {
        position[key].map { firstRow[$0 + 1] - firstRow[$0] }
    }

    /// - Parameter source: names where the embeddings came from in errors (e.g. the cache file).
    public init(_ embeddings: [String: [[Float]]], source: String? = nil) throws(EngineError) {
        let keys = embeddings.keys.sorted()
        var dimension: Int? = nil
        var firstRow = [0]
        var total = 0
        for key in keys {
            let segments = embeddings[key]!
            guard !segments.isEmpty else {
                throw EngineError(path: source, "utterance \"\(key)\" has no segment embeddings")
            }
            for segment in segments {
                let dim = dimension ?? segment.count
                guard dim > 0, segment.count == dim else {
                    throw EngineError(
                        path: source,
                        dim == 0 ? "utterance \"\(key)\" has an empty embedding"
                            : "utterance \"\(key)\" has a \(segment.count)-dimensional segment embedding; others have \(dim)")
                }
                guard segment.allSatisfy(\.isFinite) else {
                    throw EngineError(path: source, "utterance \"\(key)\" has a NaN or infinite embedding value")
                }
                dimension = dim
            }
            total += segments.count
            firstRow.append(total)
        }
        let dim = dimension ?? 0
        var rows = [Float](repeating: 0, count: total * dim)
        var centroids = [Double](repeating: 0, count: keys.count * dim)
        var row = 0
        var normalised = [Double](repeating: 0, count: dim)
        for (u, key) in keys.enumerated() {
            let segments = embeddings[key]!
            for segment in segments {
                var sumSquares = 0.0
                for x in segment { sumSquares += Double(x) * Double(x) }
                let scale = 1 / max(sumSquares.squareRoot(), 1e-12)
                for k in 0..<dim {
                    normalised[k] = Double(segment[k]) * scale
                    rows[row * dim + k] = Float(normalised[k])
                    centroids[u * dim + k] += normalised[k]
                }
                row += 1
            }
            // The mean's length does not matter once it is normalised: normalise the sum.
            var sumSquares = 0.0
            for k in 0..<dim { sumSquares += centroids[u * dim + k] * centroids[u * dim + k] }
            let scale = 1 / max(sumSquares.squareRoot(), 1e-12)
            for k in 0..<dim { centroids[u * dim + k] *= scale }
        }
        self.dimension = dim
        self.keys = keys
        self.position = Dictionary(uniqueKeysWithValues: keys.enumerated().map { ($1, $0) })
        self.firstRow = firstRow
        self.rows = rows
        self.centroids = centroids
    }

    func index(_ key: String) -> Int? { position[key] }

    /// Runs `body` with raw views of the storage (valid only inside `body`).
    func withView<R>(_ body: (ScoringView) throws -> R) rethrows -> R {
        try rows.withUnsafeBufferPointer { rows in
            try firstRow.withUnsafeBufferPointer { firstRow in
                try centroids.withUnsafeBufferPointer { centroids in
                    try body(ScoringView(rows: rows.baseAddress!, firstRow: firstRow.baseAddress!,
                                         centroids: centroids.baseAddress!, dimension: dimension, count: keys.count))
                }
            }
        }
    }
}

/// Raw pointers into a `SpeakerEmbeddingTable`, for the scoring loops (read-only, so sharing across threads is safe).
struct ScoringView: @unchecked Sendable {
    let rows: UnsafePointer<Float>
    let firstRow: UnsafePointer<Int>
    let centroids: UnsafePointer<Double>
    let dimension: Int
    /// Number of utterances.
    let count: Int

    /// The score of utterance `i` of `self` against utterance `j` of `other` (same dimension).
    @inline(__always)
    func score(_ i: Int, _ other: ScoringView, _ j: Int, rule: SpeakerScoringRule) -> Double {
        let dim = dimension
        switch rule {
        case .ipet:
            var total = 0.0
            for r in firstRow[i]..<firstRow[i + 1] {
                for c in other.firstRow[j]..<other.firstRow[j + 1] {
                    total += euclideanDistance(rows + r * dim, other.rows + c * dim, dim)
                }
            }
            let pairs = (firstRow[i + 1] - firstRow[i]) * (other.firstRow[j + 1] - other.firstRow[j])
            return -total / Double(pairs)
        case .cosine:
            let a = centroids + i * dim, b = other.centroids + j * dim
            var dot = 0.0
            for k in 0..<dim { dot += a[k] * b[k] }
            return dot
        }
    }
}

/// ‖a − b‖ over `n` floats: differences and squares in Float SIMD lanes (exact enough for unit vectors: relative
/// error ~1e-7), the total and square root in Double.
@inline(__always)
private func euclideanDistance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Double {
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
    var i = 0
    while i + 16 <= n {
        let d0 = ra.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
            - rb.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
        let d1 = ra.loadUnaligned(fromByteOffset: 4 * (i + 8), as: SIMD8<Float>.self)
            - rb.loadUnaligned(fromByteOffset: 4 * (i + 8), as: SIMD8<Float>.self)
        acc0 += d0 * d0
        acc1 += d1 * d1
        i += 16
    }
    if i + 8 <= n {
        let d = ra.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
            - rb.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
        acc0 += d * d
        i += 8
    }
    var sum = Double((acc0 + acc1).sum())
    while i < n {
        let d = a[i] - b[i]
        sum += Double(d * d)
        i += 1
    }
    return sum.squareRoot()
}

extension SpeakerScoringRule {
    /// The score of two utterances given as segment embeddings `[segments][dim]` (for one-off use; score trial lists
    /// with `SpeakerTrialScorer`, which normalises each utterance once).
    public func score(_ enrol: [[Float]], _ test: [[Float]]) throws(EngineError) -> Double {
        let table = try SpeakerEmbeddingTable(["enrol": enrol, "test": test])
        return table.withView { $0.score(0, $0, 1, rule: self) }
    }
}

/// Scores trial lists from in-memory embeddings, with optional s-norm / AS-norm.
public struct SpeakerTrialScorer: Sendable {
    public let rule: SpeakerScoringRule
    public let embeddings: SpeakerEmbeddingTable

    public init(embeddings: SpeakerEmbeddingTable, rule: SpeakerScoringRule) {
        self.embeddings = embeddings
        self.rule = rule
    }

    /// - Parameter embeddings: `[utterance key: [segments][dim]]`, keys as in the trial list.
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
