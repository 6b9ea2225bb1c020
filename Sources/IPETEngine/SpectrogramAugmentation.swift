import IPETModels

/// What training may do to an AST example's normalised features `[frames, bins]`, in this order, drawing from the
/// run's generator:
///
/// 1. SpecAugment as `tools/train_ipet.py` applies it (torchaudio's FrequencyMasking and TimeMasking, once each): a
///    width w uniform in `0..<maxWidth` and a start uniform in `0..<max(1, size − w)`, frequency first, then time;
///    masked values become 0 (`docs/ipet-method.md` §5: on the normalised features).
/// 2. A mel shift (the demo's recipe, `tools/make_demo.py` `FrequencyShift`): the mel axis moved by s uniform in
///    `−melShift…melShift` bins, vacated bins set to 0.
struct SpectrogramAugmentation: Sendable, Equatable {
    let frequencyMask: Int
    let timeMask: Int
    let melShift: Int

    var isActive: Bool { frequencyMask > 0 || timeMask > 0 || melShift > 0 }

    /// Augments one example `x` `[frames, bins]` in place.
    func apply(_ x: inout [Float], frames: Int, bins: Int, generator: inout SeededRandomGenerator) {
        if frequencyMask > 0 {
            let w = generator.integer(below: frequencyMask), start = generator.integer(below: max(1, bins - w))
            for t in 0..<frames { for f in start..<min(bins, start + w) { x[t * bins + f] = 0 } }
        }
        if timeMask > 0 {
            let w = generator.integer(below: timeMask), start = generator.integer(below: max(1, frames - w))
            for t in start..<min(frames, start + w) { for f in 0..<bins { x[t * bins + f] = 0 } }
        }
        if melShift > 0 {
            let s = generator.integer(below: 2 * melShift + 1) - melShift
            guard s != 0 else { return }
            var shifted = [Float](repeating: 0, count: x.count)
            for t in 0..<frames {
                for f in max(0, s)..<min(bins, bins + s) { shifted[t * bins + f] = x[t * bins + f - s] }
            }
            x = shifted
        }
    }
}
