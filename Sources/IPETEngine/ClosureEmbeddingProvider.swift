import Foundation
import IPETFormats

/// An `EmbeddingProvider` from a closure (tests, adapters).
public struct ClosureEmbeddingProvider: EmbeddingProvider {
    private let body: (String) throws -> [[Float]]

    public init(_ body: @escaping (String) throws -> [[Float]]) {
        self.body = body
    }

    public func segmentEmbeddings(audioFile path: String) throws -> [[Float]] {
        try body(path)
    }
}
