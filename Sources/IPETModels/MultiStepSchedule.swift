import Foundation

/// `torch.optim.lr_scheduler.MultiStepLR`, stepped once after each epoch: the learning rate is multiplied by γ at every
/// milestone the completed epochs have reached, `lr = lr₀ · γ^(milestones ≤ epochs)`, as repeated products in double
/// precision like PyTorch's. IPET: a milestone at every epoch from 5 to 25, γ 0.85 (`docs/ipet-method.md` §5).
public struct MultiStepSchedule: Sendable, Equatable {
    public var initialRate: Double
    public var milestones: [Int]
    public var gamma: Double

    public init(initialRate: Double, milestones: [Int] = Array(5...25), gamma: Double = 0.85) {
        self.initialRate = initialRate
        self.milestones = milestones
        self.gamma = gamma
    }

    /// The rate for the epoch that follows `completed` epochs (0: the first epoch).
    public func learningRate(afterEpochs completed: Int) -> Double {
        var rate = initialRate
        guard completed > 0 else { return rate }
        for epoch in 1...completed {
            let hits = milestones.filter { $0 == epoch }.count
            if hits > 0 { rate *= Foundation.pow(gamma, Double(hits)) }
        }
        return rate
    }
}
