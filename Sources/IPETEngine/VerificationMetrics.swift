import Foundation

/// The figures `ipet verify` reports: EER and minDCF at p_target 0.01 and 0.05 (C_miss = C_fa = 1).
public struct VerificationMetrics: Sendable, Equatable {
    public let trials: Int
    public let targets: Int
    public let nonTargets: Int
    /// A fraction, not a percentage (`DetectionErrorCurve.equalErrorRate`).
    public let equalErrorRate: Double
    /// minDCF at p_target = 0.01 (`DetectionErrorCurve.minimumDetectionCost`).
    public let minDCF01: Double
    /// minDCF at p_target = 0.05.
    public let minDCF05: Double

    public init(_ trials: [(label: Bool, score: Double)]) throws(EngineError) {
        let curve = try DetectionErrorCurve(trials)
        self.trials = trials.count
        targets = curve.targets
        nonTargets = curve.nonTargets
        equalErrorRate = curve.equalErrorRate
        minDCF01 = curve.minimumDetectionCost(pTarget: 0.01)
        minDCF05 = curve.minimumDetectionCost(pTarget: 0.05)
    }
}
