import Foundation
import IPETTensor

/// How logits become scores: a sigmoid per class for multi-label heads, a softmax otherwise, or the logits as
/// they are.
public enum ScoreActivation: String, Sendable, CaseIterable {
    case sigmoid, softmax, none

    public func apply(_ logits: [Float]) -> [Float] {
        switch self {
        case .none: return logits
        case .sigmoid: return logits.map { 1 / (1 + Foundation.exp(-$0)) }
        case .softmax: return Kernels.softmax(logits)
        }
    }
}
