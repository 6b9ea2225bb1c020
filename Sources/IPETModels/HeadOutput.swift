import IPETTensor

/// What a head gives for one input: class logits, an embedding (speaker and x-vector heads), or both.
public struct HeadOutput: Sendable, Equatable {
    public var logits: [Float]?
    public var embedding: [Float]?

    public init(logits: [Float]? = nil, embedding: [Float]? = nil) {
        self.logits = logits
        self.embedding = embedding
    }

    /// No NaN or infinity in the logits or the embedding.
    public var isFinite: Bool {
        (logits ?? []).allSatisfy(\.isFinite) && (embedding ?? []).allSatisfy(\.isFinite)
    }

    /// One output per row of `[batch, …]` logits and/or embeddings.
    public static func rows(logits: Tensor? = nil, embeddings: Tensor? = nil) -> [HeadOutput] {
        let l = logits.map(split), e = embeddings.map(split)
        let batch = l?.count ?? e?.count ?? 0
        return (0..<batch).map { HeadOutput(logits: l?[$0], embedding: e?[$0]) }
    }

    private static func split(_ t: Tensor) -> [[Float]] {
        let n = t.shape[0], d = t.count / max(n, 1)
        return (0..<n).map { Array(UnsafeBufferPointer(start: t.data + $0 * d, count: d)) }
    }
}
