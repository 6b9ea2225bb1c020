import Foundation

/// Evaluation figures for a classifier over labelled inputs (`ipet eval`).
public struct ClassificationMetrics: Sendable {
    public struct PerClass: Sendable, Equatable {
        public let label: String
        public let precision: Double
        public let recall: Double
        public let f1: Double
        /// True instances of the class.
        public let support: Int
    }

    public let labels: [String]
    public let count: Int
    /// Top-1 accuracy (single-label) or, for multi-label, the fraction of inputs whose best class is one of theirs.
    public let accuracy: Double
    public let top5Accuracy: Double
    public let perClass: [PerClass]
    /// `confusion[true][predicted]` counts of the top class. Multi-label: the row is the top class itself when it
    /// is one of the input's labels, else the input's first label.
    public let confusion: [[Int]]
    /// Mean over classes with at least one positive of the average precision (multi-label tasks).
    public let meanAveragePrecision: Double?

    /// Which classes the macro-averaged F1 is the mean over. The two differ only when some class of the task has
    /// no input labelled with it, as when a task is evaluated on part of its classes: `all` then counts those
    /// classes as failures, `present` scores the part on its own.
    public enum MacroAverage: String, Sendable, CaseIterable {
        /// Every class of the task; a class no input is labelled with has recall 0 (nothing to find) and so F1 0.
        /// scikit-learn's `f1_score(average="macro", labels=all the task's classes)`.
        case all
        /// The classes at least one input is labelled with (support > 0). A class that is only ever predicted is
        /// left out, but its wrong predictions still lower the recall of the inputs' true classes.
        /// scikit-learn's `f1_score(average="macro", labels=sorted(set(y_true)))`.
        case present
    }

    /// The classes `macroF1` averages over.
    public let macroAverage: MacroAverage

    /// Mean per-class F1 over the classes `macroAverage` names.
    public var macroF1: Double { macroF1(over: macroAverage) }

    /// Mean per-class F1 over `classes`; 0 when there is no such class.
    public func macroF1(over classes: MacroAverage) -> Double {
        let scored = classes == .all ? perClass : perClass.filter { $0.support > 0 }
        return scored.isEmpty ? 0 : scored.map(\.f1).reduce(0, +) / Double(scored.count)
    }

    /// Classes with at least one input labelled with them.
    public var presentClassCount: Int { perClass.filter { $0.support > 0 }.count }

    /// - Parameters:
    ///   - labels: the task's class names, in logit order.
    ///   - truth: per input, the indices of its true classes (one for single-label tasks).
    ///   - scores: per input, one score per class.
    ///   - multiLabel: per-class precision / recall / F1 from the decisions `score ≥ 0.5` (scores are sigmoids) against
    ///     every label of each input, and mAP; otherwise from the top class.
    ///   - macroAverage: the classes `macroF1` averages over; all of the task's by default.
    public init(labels: [String], truth: [[Int]], scores: [[Float]], multiLabel: Bool, macroAverage: MacroAverage = .all) {
        precondition(truth.count == scores.count)
        self.macroAverage = macroAverage
        self.labels = labels
        count = truth.count
        let n = labels.count
        var confusion = Array(repeating: Array(repeating: 0, count: n), count: n)
        var correct = 0, correct5 = 0
        for (t, s) in zip(truth, scores) {
            let order = ScoreRanking.order(s)
            guard let best = order.first, let first = t.first else { continue }
            if t.contains(best) { correct += 1 }
            if order.prefix(5).contains(where: t.contains) { correct5 += 1 }
            confusion[t.contains(best) ? best : first][best] += 1
        }
        self.confusion = confusion
        accuracy = count > 0 ? Double(correct) / Double(count) : 0
        top5Accuracy = count > 0 ? Double(correct5) / Double(count) : 0
        func figures(_ label: String, tp: Double, predicted: Double, actual: Int) -> PerClass {
            let precision = predicted > 0 ? tp / predicted : 0
            let recall = actual > 0 ? tp / Double(actual) : 0
            let f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
            return PerClass(label: label, precision: precision, recall: recall, f1: f1, support: actual)
        }
        if multiLabel {
            perClass = (0..<n).map { c in
                var tp = 0, predicted = 0, actual = 0
                for (t, s) in zip(truth, scores) {
                    let positive = t.contains(c), decided = s[c] >= 0.5
                    if positive { actual += 1 }
                    if decided { predicted += 1 }
                    if positive && decided { tp += 1 }
                }
                return figures(labels[c], tp: Double(tp), predicted: Double(predicted), actual: actual)
            }
        } else { perClass = (0..<n).map { c in
            let tp = Double(confusion[c][c])
            let predicted = Double((0..<n).reduce(0) { $0 + confusion[$1][c] })
            let actual = (0..<n).reduce(0) { $0 + confusion[c][$1] }
            return figures(labels[c], tp: tp, predicted: predicted, actual: actual)
        } }
        if multiLabel {
            var aps: [Double] = []
            for c in 0..<n {
                let positives = truth.map { $0.contains(c) }
                guard positives.contains(true) else { continue }
                aps.append(Self.averagePrecision(scores: scores.map { Double($0[c]) }, positives: positives))
            }
            meanAveragePrecision = aps.isEmpty ? nil : aps.reduce(0, +) / Double(aps.count)
        } else {
            meanAveragePrecision = nil
        }
    }

    /// Average precision as scikit-learn defines it: `Σ_k (R_k − R_{k−1}) · P_k` over the distinct score
    /// thresholds, highest first (ties form one step).
    public static func averagePrecision(scores: [Double], positives: [Bool]) -> Double {
        let total = positives.filter { $0 }.count
        guard total > 0 else { return 0 }
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        var tp = 0, fp = 0, ap = 0.0, lastRecall = 0.0
        var i = 0
        while i < order.count {
            let threshold = scores[order[i]]
            while i < order.count, scores[order[i]] == threshold {
                if positives[order[i]] { tp += 1 } else { fp += 1 }
                i += 1
            }
            let recall = Double(tp) / Double(total), precision = Double(tp) / Double(tp + fp)
            ap += (recall - lastRecall) * precision
            lastRecall = recall
        }
        return ap
    }

    /// The confusion matrix as CSV: a header of predicted labels, one row per true label.
    public var confusionCSV: String {
        var out = "true\\predicted," + labels.map { CSV.escape($0) }.joined(separator: ",") + "\n"
        for (i, row) in confusion.enumerated() {
            out += CSV.escape(labels[i]) + "," + row.map(String.init).joined(separator: ",") + "\n"
        }
        return out
    }
}
