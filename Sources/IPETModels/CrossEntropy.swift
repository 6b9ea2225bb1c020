import Foundation
import IPETTensor

/// The training loss of IPET's classifiers: cross-entropy with hard labels, PyTorch's `F.cross_entropy`.
public enum CrossEntropy {
    /// `Σ_i −log softmax(z_i)[y_i]` over the rows of `logits` `[batch, classes]` (log-sum-exp in double precision), and
    /// the gradient of `scale` times that sum: `(softmax(z_i) − onehot(y_i))·scale`. The batch mean PyTorch trains on is
    /// `scale = 1/N` over the whole batch (also when the batch runs in several groups).
    public static func lossAndGradient(logits: Tensor, labels: [Int], scale: Float) -> (loss: Double, gradient: Tensor) {
        let (batch, classes) = (logits.shape[0], logits.shape[1])
        precondition(labels.count == batch && labels.allSatisfy { (0..<classes).contains($0) })
        let gradient = Tensor(zeros: logits.shape)
        var loss = 0.0
        for b in 0..<batch {
            let z = logits.data + b * classes, g = gradient.mutableData + b * classes
            var top = -Double.infinity
            for c in 0..<classes { top = max(top, Double(z[c])) }
            var sum = 0.0
            for c in 0..<classes { sum += Foundation.exp(Double(z[c]) - top) }
            let logSum = top + Foundation.log(sum)
            loss += logSum - Double(z[labels[b]])
            for c in 0..<classes {
                let p = Foundation.exp(Double(z[c]) - logSum)
                g[c] = Float(p - (c == labels[b] ? 1 : 0)) * scale
            }
        }
        return (loss, gradient)
    }
}
