import Foundation
import IPETTensor

/// The head a wav2vec 2.0 checkpoint carries, recognised from its tensors.
public enum Wav2Vec2Head: Sendable {
    case sequenceClassification(Wav2Vec2SequenceClassificationHead)
    case xvector(Wav2Vec2XVectorHead)

    /// Builds the head present in `weights`, or nil for a bare or pretraining checkpoint.
    public static func load(config: Wav2Vec2Configuration, weights: WeightStore) throws(ModelError) -> Wav2Vec2Head? {
        guard weights.contains("projector.weight"), weights.contains("classifier.weight") else { return nil }
        if weights.contains("tdnn.0.kernel.weight") { return .xvector(try Wav2Vec2XVectorHead(config: config, weights: weights)) }
        return .sequenceClassification(try Wav2Vec2SequenceClassificationHead(config: config, weights: weights))
    }

    public var needsHiddenStates: Bool {
        switch self {
        case let .sequenceClassification(h): return h.needsHiddenStates
        case let .xvector(h): return h.needsHiddenStates
        }
    }

    /// Logits (and, for x-vectors, embeddings) per input.
    public func callAsFunction(_ output: Wav2Vec2Model.Output, workspace: Workspace = Workspace()) throws(ModelError) -> [HeadOutput] {
        switch self {
        case let .sequenceClassification(head): return HeadOutput.rows(logits: head(output))
        case let .xvector(head):
            let (embeddings, logits) = try head(output, workspace: workspace)
            return HeadOutput.rows(logits: logits, embeddings: embeddings)
        }
    }
}
