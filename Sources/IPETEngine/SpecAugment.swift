import IPETModels

/// SpecAugment as `tools/train_ipet.py` applies it to AST training examples (torchaudio's FrequencyMasking and
/// TimeMasking, once each): a width w uniform in `0..<maxWidth` and a start uniform in `0..<max(1, size − w)`,
/// frequency first, then time; masked values become 0 on the *normalised* features (`docs/ipet-method.md` §5).
struct SpecAugment: Sendable, Equatable {
    let frequency: Int
    let time: Int

    var isActive: Bool { frequency > 0 || time > 0 }

    /// Masks one example `x` `[frames, bins]` in place, drawing from `generator`.
    func apply(_ x: inout [Float], frames: Int, bins: Int, generator: inout SeededRandomGenerator) {
        if frequency > 0 {
            let w = generator.integer(below: frequency), start = generator.integer(below: max(1, bins - w))
            for t in 0..<frames { for f in start..<min(bins, start + w) { x[t * bins + f] = 0 } }
        }
        if time > 0 {
            let w = generator.integer(below: time), start = generator.integer(below: max(1, frames - w))
            for t in start..<min(frames, start + w) { for f in 0..<bins { x[t * bins + f] = 0 } }
        }
    }
}
