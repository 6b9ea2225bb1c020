/// IPET's loaders lengthen a clip that is shorter than the input they need by repeating it from its start
/// (numpy's `pad(x, (0, n), mode="wrap")`), not with silence: a 1 s keyword in a 3 s crop is heard three times.
public enum WrapPadding {
    /// `samples` repeated from the start until it holds `length` samples; unchanged when it already does (or is
    /// empty, which has nothing to repeat).
    public static func pad(_ samples: [Float], to length: Int) -> [Float] {
        guard !samples.isEmpty, samples.count < length else { return samples }
        var padded = samples
        padded.reserveCapacity(length)
        while padded.count < length { padded += samples.prefix(length - padded.count) }
        return padded
    }
}
