/// Named scratch buffers reused across the layers of one forward pass (and across passes when the caller keeps
/// the workspace), so no layer allocates per token. Not thread-safe: one workspace per concurrent forward.
public final class Workspace {
    private var buffers: [String: TensorStorage] = [:]

    public init() {}

    /// A buffer of at least `count` floats under `name`; its contents are unspecified (whatever was left there).
    public func buffer(_ name: String, count: Int) -> UnsafeMutablePointer<Float> {
        if let b = buffers[name], b.count >= count { return b.pointer }
        let storage = TensorStorage(count: count)
        buffers[name] = storage
        return storage.pointer
    }

    /// Total floats held, for memory reports.
    public var capacity: Int { buffers.values.reduce(0) { $0 + $1.count } }
}
