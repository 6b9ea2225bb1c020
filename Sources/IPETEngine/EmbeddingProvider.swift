import Foundation
import IPETFormats

/// HOOK(engine): where speaker embeddings are computed from audio.
///
/// `ipet verify` asks a provider for every utterance whose embedding is not in the cache (`--embeddings`), and for
/// cohort audio. An implementation loads the backbone and speaker pack once, then per file follows IPET's protocol
/// (`docs/ipet-method.md` §4.4): 5 linearly spaced segments of the pack's segment length (AST 400 frames, wav2vec 2.0 3 s), one
/// embedding per segment. Returning the segments un-normalised is fine: scoring L2-normalises every segment.
public protocol EmbeddingProvider {
    /// The segment embeddings `[segments][dim]` of the audio file at `path` (one row for a single vector).
    func segmentEmbeddings(audioFile path: String) throws -> [[Float]]
}
