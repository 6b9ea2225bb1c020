#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Checks of on-disk HDF5 structures that libhdf5 1.10.8 trusts too much, run over the mapped file before libhdf5
/// walks any group. Found by fuzzing corrupted `tf_model.h5` files (`Formats/hdf5.md` §1.4):
///
/// - Local heaps (`HEAP`, the name heaps of old-style groups, which Keras files use everywhere): libhdf5 follows the
///   free-block list without detecting cycles, allocating a node per step until memory runs out. We walk each list
///   with a step bound and bounds checks.
///
/// Global heaps (variable-length strings) are not read by libhdf5 at all: see `readVariableLengthStrings`.
enum HDF5Integrity {
    /// Every local heap in `bytes` (file addresses relative to `base`) must have a finite, in-bounds free list.
    /// Returns a description of the first problem, or nil.
    static func checkLocalHeaps(_ bytes: UnsafeRawBufferPointer, base: UInt64) -> String? {
        let count = bytes.count
        guard count >= 32, let start = bytes.baseAddress else { return nil }
        func u64(_ at: Int) -> UInt64 { UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
        var position = 0
        while position <= count - 32 {
            // memchr for the signature's first byte keeps the scan near memory speed on large weight files.
            guard let hit = memchr(start + position, 0x48, count - 32 - position + 1) else { break }
            let at = start.distance(to: UnsafeRawPointer(hit))
            position = at + 1
            // "HEAP", version 0, three reserved zero bytes; then data size, free-list head, data address.
            guard bytes[at + 1] == 0x45, bytes[at + 2] == 0x41, bytes[at + 3] == 0x50, bytes[at + 4] == 0,
                bytes[at + 5] == 0, bytes[at + 6] == 0, bytes[at + 7] == 0
            else { continue }
            let dataSize = u64(at + 8)
            var free = u64(at + 16)
            let dataAddress = u64(at + 24)
            let (dataStart, o1) = dataAddress.addingReportingOverflow(base)
            let (dataEnd, o2) = dataStart.addingReportingOverflow(dataSize)
            guard !o1, !o2, dataEnd <= UInt64(count) else {
                return "local heap at byte \(at): data segment [\(dataAddress), +\(dataSize)) lies outside the file"
            }
            var steps: UInt64 = 0
            let maxSteps = dataSize / 16 + 1
            while free != 1 {  // H5HL_FREE_NULL
                steps += 1
                guard steps <= maxSteps else { return "local heap at byte \(at): free list loops" }
                guard free < dataSize, dataSize - free >= 16 else {
                    return "local heap at byte \(at): free block offset \(free) is outside its \(dataSize)-byte data"
                }
                let block = Int(dataStart + free)
                let next = u64(block)
                let size = u64(block + 8)
                guard size <= dataSize - free else {
                    return "local heap at byte \(at): free block at \(free) of \(size) bytes overruns its data"
                }
                guard next != 0 else { return "local heap at byte \(at): free block at \(free) links to offset 0" }
                free = next
            }
        }
        return nil
    }
}
