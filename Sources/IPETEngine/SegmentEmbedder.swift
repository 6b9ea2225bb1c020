import Foundation
import IPETAudio
import IPETModels
import IPETTensor

/// IPET's speaker-embedding protocol (`docs/ipet-method.md` §4.4): an utterance shorter than one segment is
/// wrap-padded to it; `count` segments start at `linspace(0, length − segment, count)` (truncated to whole
/// samples); each is embedded by the task's head and L2-normalised. The result is `[count][dim]`.
///
/// `BatchRunner` follows the same protocol for many files (`Options.segments`); `embed` does one utterance.
public struct SegmentEmbedder: Sendable {
    public let task: TaskModel
    public let count: Int
    public let segmentSamples: Int

    /// Segment length: the pack's window (AST: `max_length` frames; wav2vec 2.0: `crop_samples`), else 3 s
    /// (IPET's wav2vec 2.0 VoxCeleb setting of 300 frames).
    public init(task: TaskModel, count: Int? = nil, segmentSamples: Int? = nil) {
        self.task = task
        self.count = max(1, count ?? task.pack?.preprocessing.segments ?? 5)
        self.segmentSamples = segmentSamples ?? task.windowSamples ?? 3 * task.backbone.sampleRate
    }

    /// Segment start offsets for an utterance of `length` samples (after any wrap padding).
    public func starts(length: Int) -> [Int] {
        let span = max(0, length - segmentSamples)
        guard count > 1 else { return [0] }
        // As numpy.linspace computes it: i·step, with the last point exactly the end.
        let step = Double(span) / Double(count - 1)
        return (0..<count).map { $0 == count - 1 ? span : Int(Double($0) * step) }
    }

    /// `e / max(‖e‖, 1e-12)`, as torch's `F.normalize`.
    public static func normalized(_ e: [Float]) -> [Float] {
        let norm = e.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        return e.map { Float(Double($0) / max(norm, 1e-12)) }
    }

    public func embed(_ samples: [Float], source: String, workspace: Workspace = Workspace()) throws -> [[Float]] {
        guard !samples.isEmpty else { throw EngineError(path: source, "no samples") }
        let audio = WrapPadding.pad(samples, to: segmentSamples)
        // Segments run a few at a time, so memory does not grow with the number of segments.
        let segmentStarts = starts(length: audio.count)
        var outputs: [HeadOutput] = []
        for chunk in stride(from: 0, to: segmentStarts.count, by: 8) {
            let features = try segmentStarts[chunk..<min(chunk + 8, segmentStarts.count)].map { s in
                try task.features(Array(audio[s..<(s + segmentSamples)]), source: source)
            }
            outputs += try task.run(features, workspace: workspace)
        }
        return try outputs.map { out in
            guard let e = out.embedding else {
                throw EngineError(path: source, "\(task.name) has no embedding head (a speaker pack or an x-vector checkpoint)")
            }
            guard out.isFinite else { throw EngineError.nonFinite("the embedding", path: source) }
            return Self.normalized(e)
        }
    }
}
