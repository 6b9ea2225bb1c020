import Foundation
import IPETTensor

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
