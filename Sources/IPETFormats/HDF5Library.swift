import CHDF5

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Process-wide access to libhdf5.
///
/// Why a lock (`docs/native-libraries.md` §1): libhdf5 is thread-safe only when built so (Debian's 1.10.8 is, other
/// builds need not be), a thread-safe build serialises every call anyway, and the process-wide setup below must be
/// used consistently. So every call into the library, including `H5*close` in deinitialisers, goes through
/// `locked`. The lock is recursive so that helpers can call each other. On first use the library is initialised, and on
/// each thread's first use its automatic error printing is switched off (a thread-safe build keeps that setting per
/// thread): failures become `HDF5Error`s naming the file and object instead of
/// text on stderr.
enum HDF5Library {
    private static let mutex = HDF5RecursiveMutex()
    nonisolated(unsafe) private static var initialized = false
    /// Whether variable-length strings can be read through our own heap reader (see `shim_vl_descriptor_conv`).
    nonisolated(unsafe) private(set) static var rawDescriptorsAvailable = false

    static func locked<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        mutex.lock()
        defer { mutex.unlock() }
        if !initialized {
            _ = H5open()
            rawDescriptorsAvailable = shim_register_vl_descriptor_conversion() >= 0
            clearErrors()
            initialized = true
        }
        shim_silence_error_printing_on_this_thread()
        return try body()
    }

    /// The most specific message on libhdf5's error stack (e.g. "truncated file: eof = …"), then clears the stack.
    /// Call with the lock held, right after a failed call.
    static func takeErrorMessage() -> String {
        var buffer = [CChar](repeating: 0, count: 512)
        let n = buffer.withUnsafeMutableBufferPointer { shim_innermost_error($0.baseAddress, $0.count) }
        _ = H5Eclear2(shim_H5E_DEFAULT())
        guard n > 0 else { return "no detail from libhdf5" }
        let bytes = buffer.prefix(n).map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Discards whatever a failed call left on the error stack (for probes whose failure is an expected answer).
    static func clearErrors() {
        _ = H5Eclear2(shim_H5E_DEFAULT())
    }
}

/// A recursive pthread mutex (Foundation-free, like the rest of IPETFormats).
final class HDF5RecursiveMutex: @unchecked Sendable {
    private let handle: UnsafeMutablePointer<pthread_mutex_t>

    init() {
        handle = .allocate(capacity: 1)
        var attributes = pthread_mutexattr_t()
        pthread_mutexattr_init(&attributes)
        pthread_mutexattr_settype(&attributes, Int32(PTHREAD_MUTEX_RECURSIVE))
        pthread_mutex_init(handle, &attributes)
        pthread_mutexattr_destroy(&attributes)
    }

    deinit {
        pthread_mutex_destroy(handle)
        handle.deallocate()
    }

    func lock() { pthread_mutex_lock(handle) }
    func unlock() { pthread_mutex_unlock(handle) }
}
