/// The one order in which classes are ranked everywhere (records' `top`, top-1 and top-5 accuracy, average
/// precision): highest score first, ties in label order, so the same scores always print the same ranking.
public enum ScoreRanking {
    /// Class indices, best first.
    public static func order(_ scores: [Float]) -> [Int] {
        scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
    }
}
