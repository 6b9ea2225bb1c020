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
/// - Old-style group nodes: a version-1 B-tree node (`TREE`) of a group, or a symbol-table node (`SNOD`), holding an
///   address past the end of the file — notably the "undefined address" 0xFF…FF — makes libhdf5 1.10.8 read through
///   a NULL buffer (a segfault found by mutating `tf_model.h5`). Every child / sibling / object-header / cached
///   B-tree and heap address in those nodes must lie inside the file (siblings may be undefined).
///
/// - Link Info messages (new-style groups, message type 2): a fractal-heap or name-index B-tree address past the end of
///   the file makes libhdf5 1.10.8 read through NULL when the group's links are looked up (HDF5Fuzz, a mutated
///   `external_link.h5`: SEGV in `H5F__accum_read` ← `H5B2__hdr_protect` ← `H5G__obj_get_linfo`). Both addresses
///   must be undefined or inside the file, found in version-1 object headers by the message's layout and in
///   version-2 ones (`OHDR`/`OCHK`) by walking their message lists.
///
/// Global heaps (variable-length strings) are not read by libhdf5 at all: see `readVariableLengthStrings`.
enum HDF5Integrity {
    static let undefinedAddress = UInt64.max

    /// Every group B-tree node and symbol-table node in `bytes` must point inside the file. Returns the first problem.
    static func checkGroupNodes(_ bytes: UnsafeRawBufferPointer, base: UInt64) -> String? {
        let count = bytes.count
        guard count >= 32, let start = bytes.baseAddress, UInt64(count) > base else { return nil }
        let end = UInt64(count) - base  // addresses are relative to the superblock (after any user block)
        func u64(_ at: Int) -> UInt64 { UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
        func u16(_ at: Int) -> Int { Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt16.self))) }
        func inside(_ address: UInt64) -> Bool { address < end }
        for (signature, isTree) in [(Array("TREE".utf8), true), (Array("SNOD".utf8), false)] {
            var position = 0
            while position <= count - 24 {
                guard let hit = memchr(start + position, Int32(signature[0]), count - 24 - position + 1) else { break }
                let at = start.distance(to: UnsafeRawPointer(hit))
                position = at + 1
                guard bytes[at + 1] == signature[1], bytes[at + 2] == signature[2], bytes[at + 3] == signature[3] else { continue }
                if isTree {
                    // "TREE", type (0 = group, 1 = chunks), level, entries used, left and right sibling; for a group
                    // node: key0, child0, key1, child1, …, keyN (8 bytes each).
                    guard bytes[at + 4] == 0, bytes[at + 5] < 64 else { continue }
                    let used = u16(at + 6)
                    for sibling in [u64(at + 8), u64(at + 16)] where sibling != undefinedAddress && !inside(sibling) {
                        return "group B-tree node at byte \(at): sibling address \(sibling) lies outside the file"
                    }
                    guard at + 24 + used * 16 + 8 <= count else {
                        return "group B-tree node at byte \(at): \(used) entries overrun the file"
                    }
                    for i in 0..<used {
                        let child = u64(at + 24 + i * 16 + 8)
                        guard inside(child) else { return "group B-tree node at byte \(at): child \(i) address \(child) lies outside the file" }
                    }
                } else {
                    // "SNOD", version 1, reserved 0, number of symbols, then 40-byte entries: name offset, object
                    // header address, cache type, reserved, 16-byte scratch (cache type 1: B-tree and heap address).
                    guard bytes[at + 4] == 1, bytes[at + 5] == 0 else { continue }
                    let symbols = u16(at + 6)
                    guard at + 8 + symbols * 40 <= count else { return "symbol table node at byte \(at): \(symbols) entries overrun the file" }
                    for i in 0..<symbols {
                        let entry = at + 8 + i * 40
                        guard inside(u64(entry + 8)) else {
                            return "symbol table node at byte \(at): entry \(i) points to an object header outside the file"
                        }
                        let cache = bytes.loadUnaligned(fromByteOffset: entry + 16, as: UInt32.self)
                        if UInt32(littleEndian: cache) == 1, !inside(u64(entry + 24)) || !inside(u64(entry + 32)) {
                            return "symbol table node at byte \(at): entry \(i) caches a B-tree or heap address outside the file"
                        }
                    }
                }
            }
        }
        // Symbol-table messages in version-1 object headers: type 0x0011, size 16, flags, 3 reserved zero bytes, then
        // the group's B-tree and local-heap addresses.
        var position = 0
        while position <= count - 24 {
            guard let hit = memchr(start + position, 0x11, count - 24 - position + 1) else { break }
            let at = start.distance(to: UnsafeRawPointer(hit))
            position = at + 1
            guard bytes[at + 1] == 0, bytes[at + 2] == 0x10, bytes[at + 3] == 0, bytes[at + 5] == 0, bytes[at + 6] == 0,
                bytes[at + 7] == 0
            else { continue }
            let tree = u64(at + 8), heap = u64(at + 16)
            // Raw data can hold the pattern: only a message naming at least one real B-tree node or local heap counts.
            func signature(_ address: UInt64) -> [UInt8]? {
                guard inside(address), address + base + 4 <= UInt64(count) else { return nil }
                let p = Int(address + base)
                return [bytes[p], bytes[p + 1], bytes[p + 2], bytes[p + 3]]
            }
            let real = signature(tree) == Array("TREE".utf8) || signature(heap) == Array("HEAP".utf8)
            if real && (!inside(tree) || !inside(heap)) {
                return "symbol-table message at byte \(at): B-tree address \(tree) or heap address \(heap) lies outside the file"
            }
        }
        return nil
    }

    /// Every Link Info message in `bytes` must name a fractal heap and a name-index B-tree that are undefined or
    /// inside the file. Returns the first problem.
    static func checkLinkInfo(_ bytes: UnsafeRawBufferPointer, base: UInt64) -> String? {
        let count = bytes.count
        guard count >= 32, let start = bytes.baseAddress, UInt64(count) > base else { return nil }
        let end = UInt64(count) - base
        func u64(_ at: Int) -> UInt64 { UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
        func u16(_ at: Int) -> Int { Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt16.self))) }
        func allowed(_ address: UInt64) -> Bool { address == undefinedAddress || address < end }
        /// The body of a Link Info message: version 0, flags (bit 0: max creation index present, bit 1: creation-order
        /// index present), [max creation index], fractal heap address, name-index B-tree address, [order index].
        /// Returns the body's length when it has that layout and fits in `limit`, and the problem if it has one.
        func linkInfo(at body: Int, limit: Int) -> (length: Int, problem: String?)? {
            guard body + 2 <= limit, bytes[body] == 0, bytes[body + 1] & ~0x03 == 0 else { return nil }
            let flags = bytes[body + 1]
            let heapAt = body + 2 + (flags & 1 != 0 ? 8 : 0)
            let length = heapAt - body + 16 + (flags & 2 != 0 ? 8 : 0)
            guard body + length <= limit else { return nil }
            var addresses = [("fractal heap", u64(heapAt)), ("name-index B-tree", u64(heapAt + 8))]
            if flags & 2 != 0 { addresses.append(("creation-order B-tree", u64(heapAt + 16))) }
            for (what, address) in addresses where !allowed(address) {
                return (length, "link info message at byte \(body): \(what) address \(address) lies outside the file")
            }
            return (length, nil)
        }
        // Version-1 object headers have no signature: a message is type (2 bytes), size (2, a multiple of 8 that
        // holds the body), flags (1), 3 reserved bytes. Raw data matching that layout with addresses outside the
        // file would be refused too; zeros and real addresses are inside, so weights do not trip it in practice.
        var position = 0
        while position <= count - 16 {
            guard let hit = memchr(start + position, 0x02, count - 16 - position + 1) else { break }
            let at = start.distance(to: UnsafeRawPointer(hit))
            position = at + 1
            guard bytes[at + 1] == 0 else { continue }
            let size = u16(at + 2)
            guard size >= 24, size <= 40, size % 8 == 0, at + 8 + size <= count,
                  let (length, problem) = linkInfo(at: at + 8, limit: at + 8 + size), (length + 7) / 8 * 8 == size
            else { continue }
            if let problem { return problem }
        }
        // Version-2 object headers: "OHDR", version 2, flags, optional times and attribute phase values, the size of
        // chunk 0 in 1/2/4/8 bytes, then messages of type (1), size (2), flags (1), [creation order (2)]. Continuation
        // chunks ("OCHK") hold messages of the same form; their extent comes from the continuation message (type 16).
        func walkMessages(from first: Int, to limit: Int, creationOrder: Bool, depth: Int) -> String? {
            var at = first
            let header = creationOrder ? 6 : 4
            while at + header <= limit {
                let type = bytes[at], size = u16(at + 1)
                let body = at + header
                guard body + size <= limit else { return nil }  // libhdf5 refuses such a header itself
                if type == 2, let (_, problem) = linkInfo(at: body, limit: body + size), let problem { return problem }
                if type == 16, size >= 16, depth < 64 {
                    let address = u64(body), length = u64(body + 8)
                    let (chunkStart, overflow) = address.addingReportingOverflow(base)
                    if !overflow, address < end, length >= 8, length <= UInt64(count) - chunkStart {
                        let chunk = Int(chunkStart)
                        if bytes[chunk] == 0x4F, bytes[chunk + 1] == 0x43, bytes[chunk + 2] == 0x48, bytes[chunk + 3] == 0x4B,
                           let problem = walkMessages(from: chunk + 4, to: chunk + Int(length) - 4,
                                                      creationOrder: creationOrder, depth: depth + 1) {
                            return problem
                        }
                    }
                }
                at = body + size
            }
            return nil
        }
        position = 0
        while position <= count - 16 {
            guard let hit = memchr(start + position, 0x4F, count - 16 - position + 1) else { break }
            let at = start.distance(to: UnsafeRawPointer(hit))
            position = at + 1
            guard bytes[at + 1] == 0x48, bytes[at + 2] == 0x44, bytes[at + 3] == 0x52, bytes[at + 4] == 2 else { continue }
            let flags = bytes[at + 5]
            var field = at + 6 + (flags & 0x20 != 0 ? 16 : 0) + (flags & 0x10 != 0 ? 4 : 0)
            let width = 1 << Int(flags & 0x03)
            guard field + width <= count else { continue }
            var chunkSize: UInt64 = 0
            for i in 0..<width { chunkSize |= UInt64(bytes[field + i]) << (8 * UInt64(i)) }
            field += width
            guard chunkSize <= UInt64(count - field) else { continue }
            if let problem = walkMessages(from: field, to: field + Int(chunkSize), creationOrder: flags & 0x04 != 0, depth: 0) {
                return problem
            }
        }
        return nil
    }

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
