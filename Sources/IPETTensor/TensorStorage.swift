import IPETFormats

/// Float32 memory that is either owned (allocated, zero-filled, freed on deinit) or a read-only view into a
/// memory-mapped file that `keepAlive` holds open.
public final class TensorStorage: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int
    public let isMapped: Bool
    private let keepAlive: AnyObject?

    /// Zero-filled owned storage. Allocation is 64-byte aligned for SIMD and BLAS.
    public init(count: Int) {
        precondition(count >= 0)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        pointer = raw.initializeMemory(as: Float.self, repeating: 0, count: max(count, 1))
        self.count = count
        isMapped = false
        keepAlive = nil
    }

    /// A view of mapped memory; the pointer must be 4-byte aligned and stay valid while `owner` lives.
    public init(mapped pointer: UnsafePointer<Float>, count: Int, owner: AnyObject) {
        self.pointer = UnsafeMutablePointer(mutating: pointer)
        self.count = count
        isMapped = true
        keepAlive = owner
    }

    deinit {
        if !isMapped { UnsafeMutableRawPointer(pointer).deallocate() }
    }
}
