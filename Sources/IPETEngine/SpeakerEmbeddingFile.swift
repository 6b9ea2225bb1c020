import Foundation
import IPETFormats

/// Embedding caches: a safetensors file with one float tensor per utterance, named by the utterance key of the trial
/// list, of shape `[segments, dim]` (or `[dim]` for one vector). Any float dtype reads (F32, F16, BF16, F64); we
/// write F32 `[segments, dim]`.
public enum SpeakerEmbeddingFile {
    public static func read(path: String) throws(EngineError) -> [String: [[Float]]] {
        let file: SafeTensorsFile
        do {
            file = try SafeTensorsFile(path: path)
        } catch {
            throw EngineError("\(error)")
        }
        if case let .mismatch(recorded, computed) = ContentDigest.check(file) {
            throw EngineError(path: path, ContentDigest.mismatchMessage(recorded: recorded, computed: computed))
        }
        var out: [String: [[Float]]] = [:]
        out.reserveCapacity(file.tensors.count)
        for info in file.tensors {
            let values: [Float]
            do {
                values = try file.floats(info.name)
            } catch {
                throw EngineError("\(error)")
            }
            switch info.shape.count {
            case 1 where info.shape[0] > 0:
                out[info.name] = [values]
            case 2 where info.shape[0] > 0 && info.shape[1] > 0:
                let dim = info.shape[1]
                out[info.name] = (0..<info.shape[0]).map { Array(values[($0 * dim)..<(($0 + 1) * dim)]) }
            default:
                throw EngineError(
                    path: path, "tensor \"\(info.name)\" has shape \(info.shape); an embedding is [segments, dim] or [dim]")
            }
        }
        return out
    }

    /// Writes every utterance as an F32 `[segments, dim]` tensor (sorted by key), atomically.
    public static func write(
        _ embeddings: [String: [[Float]]], to path: String, metadata: [(key: String, value: String)] = []
    ) throws(EngineError) {
        var writer = SafeTensorsWriter(metadata: [("format", "pt")] + metadata, recordsContentDigest: true)
        for key in embeddings.keys.sorted() {
            let segments = embeddings[key]!
            let dim = segments.first?.count ?? 0
            guard dim > 0, segments.allSatisfy({ $0.count == dim }) else {
                throw EngineError(path: path, "utterance \"\(key)\" has segments of different or zero dimension")
            }
            writer.add(.init(name: key, shape: [segments.count, dim], floats: segments.flatMap { $0 }))
        }
        do {
            try writer.write(to: path)
        } catch {
            throw EngineError("\(error)")
        }
    }
}
