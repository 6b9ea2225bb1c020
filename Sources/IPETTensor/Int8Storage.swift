/// Signed 8-bit memory that is either owned (allocated, zero-filled, freed on deinit) or a read-only view into a
/// memory-mapped file that `owner` holds open: the values of int8 weights (`QuantizedWeight`), the counterpart of
/// `TensorStorage` for float32.
public final class Int8Storage: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Int8>
    public let count: Int
    public let isMapped: Bool
    private let keepAlive: AnyObject?

    /// Zero-filled owned storage, 64-byte aligned.
    public init(count: Int) {
        precondition(count >= 0)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64)
        pointer = raw.initializeMemory(as: Int8.self, repeating: 0, count: max(count, 1))
        self.count = count
        isMapped = false
        keepAlive = nil
    }

    /// A view of mapped memory that stays valid while `owner` lives.
    public init(mapped pointer: UnsafePointer<Int8>, count: Int, owner: AnyObject) {
        self.pointer = UnsafeMutablePointer(mutating: pointer)
        self.count = count
        isMapped = true
        keepAlive = owner
    }

    public var buffer: UnsafeBufferPointer<Int8> { UnsafeBufferPointer(start: pointer, count: count) }

    deinit {
        if !isMapped { UnsafeMutableRawPointer(pointer).deallocate() }
    }
}
