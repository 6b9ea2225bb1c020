import Foundation
import IPETTensor

/// Runs several tasks (packs) on each input: the audio is decoded and resampled once, features are computed once
/// per distinct preprocessing, and every task gets its answer.
public final class Predictor: @unchecked Sendable {
    public let backbone: Backbone
    public let tasks: [TaskModel]

    public init(backbone: Backbone, tasks: [TaskModel]) {
        self.backbone = backbone
        self.tasks = tasks
    }

    public struct Result: Sendable {
        public let task: TaskModel
        public let outcome: Swift.Result<(prediction: Prediction?, embedding: [Float]?), PipelineFailure>
    }

    /// Per-task answers for one file, in task order. A file that cannot be decoded fails for every task.
    public func predict(file: String, workspace: Workspace = Workspace()) -> [Result] {
        let samples: [Float]
        do {
            samples = try AudioInput.load(file, sampleRate: backbone.sampleRate)
        } catch {
            return tasks.map { Result(task: $0, outcome: .failure(PipelineFailure(error, path: file))) }
        }
        var features: [String: Swift.Result<[Float], PipelineFailure>] = [:]
        return tasks.map { task in
            let input: Swift.Result<[Float], PipelineFailure>
            if let cached = features[task.featureKey] {
                input = cached
            } else {
                do { input = .success(try task.features(samples, source: file)) } catch { input = .failure(PipelineFailure(error, path: file)) }
                features[task.featureKey] = input
            }
            switch input {
            case let .failure(f): return Result(task: task, outcome: .failure(f))
            case let .success(values):
                do {
                    let out = try task.run([values], workspace: workspace)[0]
                    let prediction = out.logits.map { Prediction(logits: $0, activation: task.activation, labels: task.labels) }
                    return Result(task: task, outcome: .success((prediction, out.embedding)))
                } catch {
                    return Result(task: task, outcome: .failure(PipelineFailure(error, path: file)))
                }
            }
        }
    }
}

/// Why one input failed, as a line of text without the file name (records carry the file separately).
public struct PipelineFailure: Error, Sendable, CustomStringConvertible {
    public let message: String

    public init(_ error: Error, path: String) {
        let text = "\(error)"
        message = text.hasPrefix(path + ": ") ? String(text.dropFirst(path.count + 2)) : text
    }

    public var description: String { message }
}
