import Foundation

/// The detection error trade-off of a set of scored trials: one operating point per distinct score.
///
/// A trial is accepted when `score >= threshold`. The thresholds are `+∞` (reject everything) followed by every
/// distinct score in decreasing order, so tied scores always change sides together; the last point accepts
/// everything. At each point P_fa = accepted non-targets / non-targets and P_miss = 1 − accepted targets /
/// targets. These are exactly the points of scikit-learn's `roc_curve` (fpr = P_fa, fnr = 1 − tpr = P_miss)
/// without `drop_intermediate` (the points it drops are collinear with their neighbours, so neither the EER nor
/// minDCF changes). Built with one O(n log n) sort.
public struct DetectionErrorCurve: Sendable {
    public let targets: Int
    public let nonTargets: Int
    /// Decreasing; `thresholds[0]` is `+∞`.
    public let thresholds: [Double]
    public let falseAlarmRates: [Double]
    public let missRates: [Double]

    /// - Throws: when there are no trials, only one class, or a score that is NaN or infinite.
    public init(_ trials: [(label: Bool, score: Double)]) throws(EngineError) {
        guard !trials.isEmpty else { throw EngineError("no trials to evaluate") }
        var positives = 0
        for (i, trial) in trials.enumerated() {
            guard trial.score.isFinite else {
                throw EngineError("trial \(i + 1) has score \(trial.score): scores must be finite numbers")
            }
            if trial.label { positives += 1 }
        }
        let negatives = trials.count - positives
        guard positives > 0, negatives > 0 else {
            throw EngineError(
                "evaluation needs both target and non-target trials (got \(positives) target, \(negatives) non-target)")
        }
        let sorted = trials.sorted { $0.score > $1.score }
        var thresholds: [Double] = [.infinity], falseAlarms: [Double] = [0], misses: [Double] = [1]
        let (p, n) = (Double(positives), Double(negatives))
        var accepted = (targets: 0, nonTargets: 0)
        var i = 0
        while i < sorted.count {
            let score = sorted[i].score
            while i < sorted.count, sorted[i].score == score {
                if sorted[i].label { accepted.targets += 1 } else { accepted.nonTargets += 1 }
                i += 1
            }
            thresholds.append(score)
            falseAlarms.append(Double(accepted.nonTargets) / n)
            misses.append(1 - Double(accepted.targets) / p)  // as sklearn's fnr = 1 - tpr, to the last bit
        }
        self.targets = positives
        self.nonTargets = negatives
        self.thresholds = thresholds
        self.falseAlarmRates = falseAlarms
        self.missRates = misses
    }

    /// Equal error rate, a fraction: the P_fa at which P_fa = P_miss on the curve drawn through the operating points
    /// with straight lines ("EER with linear interpolation", the same value as
    /// `brentq(lambda x: 1 - x - interp1d(fpr, tpr)(x), 0, 1)` on sklearn's `roc_curve`).
    ///
    /// d = P_miss − P_fa strictly decreases from 1 (reject all) to −1 (accept all). With `i` the first point where
    /// d ≤ 0, the crossing lies on the segment from point i−1 to i at α = d[i−1] / (d[i−1] − d[i]), and
    /// EER = P_fa[i−1] + α · (P_fa[i] − P_fa[i−1]) (= P_miss[i−1] + α · (P_miss[i] − P_miss[i−1])). All-equal
    /// scores give 0.5, perfectly separated scores 0, every target below every non-target 1.
    public var equalErrorRate: Double {
        var i = 1
        while missRates[i] - falseAlarmRates[i] > 0 { i += 1 }  // the last point has d = -1: the loop ends
        let before = missRates[i - 1] - falseAlarmRates[i - 1]
        let after = missRates[i] - falseAlarmRates[i]
        let alpha = before / (before - after)
        return falseAlarmRates[i - 1] + alpha * (falseAlarmRates[i] - falseAlarmRates[i - 1])
    }

    /// Minimum normalised detection cost (NIST SRE): the minimum over the operating points (including reject-all
    /// and accept-all) of `C_miss · P_miss · p + C_fa · P_fa · (1 − p)`, divided by `min(C_miss · p, C_fa · (1 − p))`,
    /// the cost of the better of the two trivial systems, so a useless system scores 1.
    public func minimumDetectionCost(pTarget p: Double, costMiss: Double = 1, costFalseAlarm: Double = 1) -> Double {
        precondition(p > 0 && p < 1 && costMiss > 0 && costFalseAlarm > 0, "p_target in (0, 1) and positive costs")
        var best = Double.infinity
        for (miss, falseAlarm) in zip(missRates, falseAlarmRates) {
            best = min(best, costMiss * miss * p + costFalseAlarm * falseAlarm * (1 - p))
        }
        return best / min(costMiss * p, costFalseAlarm * (1 - p))
    }
}
