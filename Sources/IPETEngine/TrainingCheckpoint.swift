import Foundation
import IPETFormats
import IPETModels
import IPETTensor

/// A training run's state after a whole epoch: everything a resumed run needs to continue exactly as the
/// uninterrupted run would have (same final pack bytes): the parameters, Adam's moments and step count, the random
/// generator's state, the epochs so far and the best epoch's parameters. A safetensors file with a content digest
/// (`value.<tensor>`, `adam.m.<tensor>`, `adam.v.<tensor>`, `best.<tensor>`), written atomically, so a run killed
/// while writing it leaves the previous one. `settings` records what the run was (recipe, data and backbone
/// fingerprints); a run with other settings must not continue from it.
struct TrainingCheckpoint {
    static let formatName = "ipet-training-checkpoint"
    static let version = "1"

    var settings: JSONValue
    var epochs: [TrainingEpoch]
    var bestEpoch: Int?
    var generatorState: [UInt64]
    var adamSteps: Int
    var values: [String: Tensor]
    var firstMoments: [String: Tensor]
    var secondMoments: [String: Tensor]
    var best: [String: Tensor]?

    func write(to path: String) throws {
        let metadata: [(key: String, value: String)] = [
            ("format", "pt"), ("ipet.format", Self.formatName), ("ipet.version", Self.version), ("settings", settings.compactText),
            ("history", JSONValue.array(epochs.map { $0.json(withSeconds: true) }).compactText),
            ("best_epoch", bestEpoch.map(String.init) ?? "none"),
            ("generator", generatorState.map(String.init).joined(separator: " ")), ("adam_steps", String(adamSteps)),
        ]
        var writer = SafeTensorsWriter(metadata: metadata, recordsContentDigest: true)
        for (prefix, tensors) in [("value.", values), ("adam.m.", firstMoments), ("adam.v.", secondMoments), ("best.", best ?? [:])] {
            for (name, t) in tensors { writer.add(.init(name: prefix + name, shape: t.shape, floats: t.array)) }
        }
        do { try writer.write(to: path) } catch { throw EngineError(path: path, "cannot write the training checkpoint: \(error)") }
    }

    static func read(_ path: String) throws -> TrainingCheckpoint {
        func fail(_ message: String) -> EngineError { EngineError(path: path, message, remedy: .startAfresh) }
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(path: path) } catch { throw fail("cannot read the training checkpoint: \(detail(of: error, about: path))") }
        guard file.metadataValue("ipet.format") == formatName, file.metadataValue("ipet.version") == version else {
            throw fail("is not a training checkpoint of this ipet (format \(formatName) \(version))")
        }
        if case let .mismatch(recorded, computed) = ContentDigest.check(file) {
            throw fail(ContentDigest.mismatchMessage(recorded: recorded, computed: computed))
        }
        guard let settingsText = file.metadataValue("settings"), let settings = try? JSONParser.parse(settingsText),
              let historyText = file.metadataValue("history"), let history = try? JSONParser.parse(historyText).array,
              let bestText = file.metadataValue("best_epoch"),
              let generator = file.metadataValue("generator")?.split(separator: " ").compactMap({ UInt64($0) }), generator.count == 4,
              let steps = file.metadataValue("adam_steps").flatMap({ Int($0) })
        else { throw fail("the training checkpoint's metadata is incomplete") }
        let epochs = history.compactMap(TrainingEpoch.init(json:))
        guard epochs.count == history.count else { throw fail("the training checkpoint's history does not parse") }
        var groups: [String: [String: Tensor]] = [:]
        for info in file.tensors {
            guard let dot = ["value.", "adam.m.", "adam.v.", "best."].first(where: { info.name.hasPrefix($0) }) else {
                throw fail("unexpected tensor \"\(info.name)\" in the training checkpoint")
            }
            do { groups[dot, default: [:]][String(info.name.dropFirst(dot.count))] = try Tensor.load(info, from: file).copy() } catch {
                throw fail("\(error)")
            }
        }
        return TrainingCheckpoint(settings: settings, epochs: epochs, bestEpoch: Int(bestText), generatorState: generator, adamSteps: steps,
                                  values: groups["value."] ?? [:], firstMoments: groups["adam.m."] ?? [:],
                                  secondMoments: groups["adam.v."] ?? [:], best: groups["best."])
    }
}
