import Foundation
import IPETAudio
import IPETModels
import IPETTensor

/// How logits become scores.
public enum ScoreActivation: String, Sendable, CaseIterable {
    case sigmoid, softmax, none

    public func apply(_ logits: [Float]) -> [Float] {
        switch self {
        case .none: return logits
        case .sigmoid: return logits.map { 1 / (1 + Foundation.exp(-$0)) }
        case .softmax:
            let m = logits.max() ?? 0
            let e = logits.map { Foundation.exp(Double($0 - m)) }
            let s = e.reduce(0, +)
            return e.map { Float($0 / s) }
        }
    }
}

/// One answer for one input and task.
public struct Prediction: Sendable {
    public let logits: [Float]
    public let scores: [Float]
    public let labels: [String]

    public init(logits: [Float], activation: ScoreActivation, labels: [String]) {
        self.logits = logits
        self.scores = activation.apply(logits)
        self.labels = labels
    }

    /// The `k` best (label, score) pairs, best first; ties keep label order.
    public func top(_ k: Int) -> [(label: String, score: Float)] {
        let order = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
        return order.prefix(k).map { (labels[$0], scores[$0]) }
    }
}
