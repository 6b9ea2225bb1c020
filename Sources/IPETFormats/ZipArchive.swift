/// A read-only zip archive over a memory-mapped file, as `torch.save` writes it (since PyTorch 1.6).
///
/// Only what a checkpoint needs: the end-of-central-directory record (plus the ZIP64 locator and record, which
/// torch always writes), the central directory, and local headers. Entry bytes are handed out as zero-copy
/// ranges of the mapping, and only for STORED entries (torch never compresses; a deflated entry is listed but
/// reading it is an error). Everything the archive declares is checked against the real file before use:
/// offsets and sizes are overflow-checked, each entry's header and data must lie before the central directory
/// and must not overlap another entry, names are unique non-empty UTF-8, and nothing is allocated from a
/// declared count until the central directory is known to be large enough to hold that many entries.
///
/// Not checked: CRC-32 (torch.load ignores it and `torch.serialization.set_crc32_options(False)` writes zeros;
/// `crc32Matches` is available), and the sizes in local headers (torch sets flag bit 3 and writes zeros there;
/// the central directory's sizes are authoritative, as in most readers).
public final class ZipArchive: @unchecked Sendable {
    public let path: String
    /// Entries in central-directory order.
    public let entries: [ZipEntry]
    /// Absolute offset and size of the central directory.
    public let centralDirectoryOffset: Int
    public let centralDirectorySize: Int
    /// Whether the archive carries a ZIP64 end-of-central-directory record.
    public let isZip64: Bool
    private let index: [String: Int]
    private let bytes: UnsafeRawBufferPointer
    private let owner: AnyObject?

    /// Size of the fixed part of the end-of-central-directory record.
    static let eocdSize = 22
    static let zip64LocatorSize = 20
    static let zip64RecordMinimumSize = 56
    static let centralHeaderSize = 46
    static let localHeaderSize = 30

    /// Maps and validates `path`.
    public convenience init(path: String) throws(ZipError) {
        let file: MappedFile
        do {
            file = try MappedFile(path: path)
        } catch {
            throw ZipError(path: path, entry: nil, problem: .io(error.reason))
        }
        try self.init(bytes: file.bytes, path: path, owner: file)
    }

    /// Validates a buffer that `owner` keeps alive (or that outlives the returned value).
    public init(bytes: UnsafeRawBufferPointer, path: String, owner: AnyObject?) throws(ZipError) {
        let directory = try ZipDirectory.parse(bytes, path: path)
        self.path = path
        self.bytes = bytes
        self.owner = owner
        self.entries = directory.entries
        self.centralDirectoryOffset = directory.offset
        self.centralDirectorySize = directory.size
        self.isZip64 = directory.isZip64
        var index: [String: Int] = [:]
        for (i, e) in directory.entries.enumerated() { index[e.name] = i }
        self.index = index
    }

    public var names: [String] { entries.map(\.name) }

    public func entry(_ name: String) -> ZipEntry? {
        index[name].map { entries[$0] }
    }

    /// The bytes of a STORED entry, inside the mapping (zero-copy).
    public func storedBytes(_ entry: ZipEntry) throws(ZipError) -> UnsafeRawBufferPointer {
        guard entry.method == 0 else {
            throw ZipError(path: path, entry: entry.name, problem: .compressed(method: entry.method))
        }
        guard entry.compressedSize > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(rebasing: bytes[entry.dataRange])
    }

    /// The bytes of the STORED entry called `name`.
    public func storedBytes(named name: String) throws(ZipError) -> UnsafeRawBufferPointer {
        guard let entry = entry(name) else { throw ZipError(path: path, entry: name, problem: .missingEntry) }
        return try storedBytes(entry)
    }

    /// Whether a STORED entry's bytes match the CRC-32 recorded in the central directory.
    public func crc32Matches(_ entry: ZipEntry) throws(ZipError) -> Bool {
        ZipArchive.crc32(try storedBytes(entry)) == entry.crc32
    }

    /// The object that keeps the mapped bytes alive; views into `storedBytes` must retain it.
    public var storageOwner: AnyObject { owner ?? self }

    /// The whole archive as mapped.
    public var allBytes: UnsafeRawBufferPointer { bytes }

    /// CRC-32 (ISO 3309 / zip, reflected polynomial 0xEDB88320).
    public static func crc32(_ data: UnsafeRawBufferPointer) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        crc32Table.withUnsafeBufferPointer { table in
            for byte in data { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        }
        return crc ^ 0xFFFF_FFFF
    }
}

private let crc32Table: [UInt32] = (0..<256).map { (n: Int) -> UInt32 in
    var c = UInt32(n)
    for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    return c
}

/// One central-directory entry, validated against the file.
public struct ZipEntry: Sendable, Equatable {
    public let name: String
    /// 0 = stored, 8 = deflate, anything else is listed but unreadable.
    public let method: UInt16
    public let flags: UInt16
    public let crc32: UInt32
    public let compressedSize: Int
    public let uncompressedSize: Int
    public let localHeaderOffset: Int
    /// Absolute offset of the entry's first data byte.
    public let dataOffset: Int

    public var isStored: Bool { method == 0 }
    /// Absolute byte range of the entry's (possibly compressed) data.
    public var dataRange: Range<Int> { dataOffset..<(dataOffset + compressedSize) }
}

/// The located and validated central directory of an archive.
struct ZipDirectory {
    var entries: [ZipEntry]
    var offset: Int
    var size: Int
    var isZip64: Bool

    static func parse(_ bytes: UnsafeRawBufferPointer, path: String) throws(ZipError) -> ZipDirectory {
        func fail(_ problem: ZipError.Problem, _ entry: String? = nil) -> ZipError {
            ZipError(path: path, entry: entry, problem: problem)
        }
        let n = bytes.count
        guard n >= ZipArchive.eocdSize else { throw fail(.tooSmall(fileLength: n)) }
        func u16(_ at: Int) -> UInt16 { UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt16.self)) }
        func u32(_ at: Int) -> UInt32 { UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
        func u64(_ at: Int) -> UInt64 { UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
        func signature(_ at: Int, _ b2: UInt8, _ b3: UInt8) -> Bool {
            bytes[at] == 0x50 && bytes[at + 1] == 0x4B && bytes[at + 2] == b2 && bytes[at + 3] == b3
        }

        // The EOCD record is the last thing in the file, followed only by its own comment, whose length it
        // states: the last position where both agree wins.
        var eocd = -1
        var candidate = n - ZipArchive.eocdSize
        let lowest = max(0, n - ZipArchive.eocdSize - 0xFFFF)
        while candidate >= lowest {
            if signature(candidate, 5, 6), candidate + ZipArchive.eocdSize + Int(u16(candidate + 20)) == n {
                eocd = candidate
                break
            }
            candidate -= 1
        }
        guard eocd >= 0 else { throw fail(.noEndOfCentralDirectory) }
        let disk = u16(eocd + 4), cdDisk = u16(eocd + 6)
        let entriesHere = u16(eocd + 8), entries16 = u16(eocd + 10)
        let size32 = u32(eocd + 12), offset32 = u32(eocd + 16)

        var entryCount = UInt64(entries16)
        var cdSize = UInt64(size32)
        var cdOffset = UInt64(offset32)
        var directoryEnd = eocd  // where the central directory must end
        var isZip64 = false
        let locator = eocd - ZipArchive.zip64LocatorSize
        if locator >= 0, signature(locator, 6, 7) {
            isZip64 = true
            let recordDisk = u32(locator + 4)
            let record64 = u64(locator + 8)
            let disks = u32(locator + 16)
            guard recordDisk == 0, disks <= 1 else { throw fail(.multiDisk) }
            guard locator >= ZipArchive.zip64RecordMinimumSize,
                record64 <= UInt64(locator - ZipArchive.zip64RecordMinimumSize)
            else { throw fail(.invalidZip64("record offset \(record64) does not leave room before the locator at \(locator)")) }
            let record = Int(record64)
            guard signature(record, 6, 6) else { throw fail(.invalidZip64("no record signature at offset \(record)")) }
            let recordSize = u64(record + 4)
            guard recordSize >= 44, recordSize == UInt64(locator - record - 12) else {
                throw fail(.invalidZip64("record size \(recordSize) does not end at the locator (offset \(locator))"))
            }
            guard u32(record + 16) == 0, u32(record + 20) == 0 else { throw fail(.multiDisk) }
            let here64 = u64(record + 24), total64 = u64(record + 32)
            guard here64 == total64 else { throw fail(.multiDisk) }
            let size64 = u64(record + 40), offset64 = u64(record + 48)
            // Non-saturated 32-bit fields must agree with the 64-bit ones.
            guard entries16 == 0xFFFF || UInt64(entries16) == total64, entriesHere == 0xFFFF || UInt64(entriesHere) == total64,
                size32 == 0xFFFF_FFFF || UInt64(size32) == size64, offset32 == 0xFFFF_FFFF || UInt64(offset32) == offset64
            else { throw fail(.invalidZip64("its counts, size or offset disagree with the end-of-central-directory record")) }
            guard disk == 0 || disk == 0xFFFF, cdDisk == 0 || cdDisk == 0xFFFF else { throw fail(.multiDisk) }
            entryCount = total64
            cdSize = size64
            cdOffset = offset64
            directoryEnd = record
        } else {
            guard disk == 0, cdDisk == 0, entriesHere == entries16 else { throw fail(.multiDisk) }
            if entries16 == 0xFFFF || size32 == 0xFFFF_FFFF || offset32 == 0xFFFF_FFFF {
                throw fail(.invalidZip64("the end-of-central-directory record needs ZIP64 values but there is no ZIP64 locator"))
            }
        }
        guard cdOffset <= UInt64(directoryEnd), cdSize == UInt64(directoryEnd) - cdOffset else {
            throw fail(.invalidCentralDirectory(
                "offset \(cdOffset) + size \(cdSize) does not end at the end-of-central-directory record (offset \(directoryEnd))"))
        }
        let start = Int(cdOffset), end = directoryEnd
        // Each entry takes at least 46 bytes, so the count is bounded by the directory's real size.
        guard entryCount <= UInt64((end - start) / ZipArchive.centralHeaderSize) else {
            throw fail(.invalidCentralDirectory("\(entryCount) entries cannot fit in \(end - start) bytes"))
        }

        var entries: [ZipEntry] = []
        entries.reserveCapacity(Int(entryCount))
        var seen = Set<String>()
        var cursor = start
        for ordinal in 0..<Int(entryCount) {
            guard end - cursor >= ZipArchive.centralHeaderSize, signature(cursor, 1, 2) else {
                throw fail(.invalidCentralDirectory("entry \(ordinal) at offset \(cursor) has no central header signature"))
            }
            let flags = u16(cursor + 8)
            let method = u16(cursor + 10)
            let crc = u32(cursor + 16)
            let csize32 = u32(cursor + 20), usize32 = u32(cursor + 24)
            let nameLength = Int(u16(cursor + 28)), extraLength = Int(u16(cursor + 30)), commentLength = Int(u16(cursor + 32))
            let diskStart16 = u16(cursor + 34)
            let local32 = u32(cursor + 42)
            let variable = nameLength + extraLength + commentLength
            guard variable <= end - cursor - ZipArchive.centralHeaderSize else {
                throw fail(.invalidCentralDirectory("entry \(ordinal) at offset \(cursor) runs past the directory's end"))
            }
            let nameStart = cursor + ZipArchive.centralHeaderSize
            let nameBytes = UnsafeRawBufferPointer(rebasing: bytes[nameStart..<(nameStart + nameLength)])
            guard nameLength > 0 else { throw fail(.invalidEntry("entry \(ordinal) has an empty name")) }
            guard let name = String(validating: nameBytes, as: UTF8.self), !nameBytes.contains(0) else {
                throw fail(.invalidEntry("entry \(ordinal) name is not valid UTF-8"))
            }
            guard seen.insert(name).inserted else { throw fail(.duplicateName, name) }
            if flags & 0x41 != 0 { throw fail(.encrypted, name) }

            // ZIP64 extended information: only the saturated fields are present, in this order.
            var usize = UInt64(usize32), csize = UInt64(csize32), local = UInt64(local32), diskStart = UInt32(diskStart16)
            var extra = nameStart + nameLength
            let extraEnd = extra + extraLength
            while extra < extraEnd {
                guard extraEnd - extra >= 4 else { throw fail(.invalidEntry("truncated extra field"), name) }
                let id = u16(extra), length = Int(u16(extra + 2))
                guard length <= extraEnd - extra - 4 else { throw fail(.invalidEntry("extra field \(id) runs past its end"), name) }
                if id == 0x0001 {
                    var field = extra + 4
                    let fieldEnd = field + length
                    func take64() throws(ZipError) -> UInt64 {
                        guard fieldEnd - field >= 8 else { throw fail(.invalidEntry("ZIP64 extra field is too short"), name) }
                        defer { field += 8 }
                        return u64(field)
                    }
                    if usize32 == 0xFFFF_FFFF { usize = try take64() }
                    if csize32 == 0xFFFF_FFFF { csize = try take64() }
                    if local32 == 0xFFFF_FFFF { local = try take64() }
                    if diskStart16 == 0xFFFF {
                        guard fieldEnd - field >= 4 else { throw fail(.invalidEntry("ZIP64 extra field is too short"), name) }
                        diskStart = u32(field)
                    }
                }
                extra += 4 + length
            }
            guard diskStart == 0 else { throw fail(.multiDisk, name) }
            if method == 0, csize != usize {
                throw fail(.invalidEntry("stored entry has compressed size \(csize) but uncompressed size \(usize)"), name)
            }
            // Local header, then data, all before the central directory.
            guard local <= UInt64(start), UInt64(start) - local >= UInt64(ZipArchive.localHeaderSize) else {
                throw fail(.outOfBounds("local header offset \(local) is not before the central directory (offset \(start))"), name)
            }
            let localOffset = Int(local)
            guard signature(localOffset, 3, 4) else {
                throw fail(.invalidEntry("no local header signature at offset \(localOffset)"), name)
            }
            let localMethod = u16(localOffset + 8)
            let localNameLength = Int(u16(localOffset + 26)), localExtraLength = Int(u16(localOffset + 28))
            let dataOffset = localOffset + ZipArchive.localHeaderSize + localNameLength + localExtraLength
            guard dataOffset <= start else {
                throw fail(.outOfBounds("local header at \(localOffset) runs into the central directory"), name)
            }
            guard localNameLength == nameLength,
                UnsafeRawBufferPointer(rebasing: bytes[(localOffset + ZipArchive.localHeaderSize)..<(localOffset + ZipArchive.localHeaderSize + nameLength)])
                    .elementsEqual(nameBytes)
            else { throw fail(.invalidEntry("local header at \(localOffset) names a different file"), name) }
            guard localMethod == method else {
                throw fail(.invalidEntry("local header method \(localMethod) differs from the central directory's \(method)"), name)
            }
            guard csize <= UInt64(start - dataOffset) else {
                throw fail(.outOfBounds("\(csize) data bytes at offset \(dataOffset) run past the central directory (offset \(start))"), name)
            }
            guard let usizeInt = Int(exactly: usize) else { throw fail(.invalidEntry("uncompressed size \(usize) is too large"), name) }
            entries.append(ZipEntry(
                name: name, method: method, flags: flags, crc32: crc, compressedSize: Int(csize), uncompressedSize: usizeInt,
                localHeaderOffset: localOffset, dataOffset: dataOffset))
            cursor = nameStart + variable
        }
        guard cursor == end else {
            throw fail(.invalidCentralDirectory("\(end - cursor) bytes after the last of \(entryCount) entries"))
        }
        // No two entries may share bytes (the classic overlapping-entry zip bomb, or aliasing tricks).
        let order = entries.indices.sorted { entries[$0].localHeaderOffset < entries[$1].localHeaderOffset }
        var previousEnd = 0
        var previous: Int?
        for i in order {
            let e = entries[i]
            if let p = previous, e.localHeaderOffset < previousEnd {
                throw fail(.overlapping(other: entries[p].name), e.name)
            }
            previousEnd = e.dataOffset + e.compressedSize
            previous = i
        }
        return ZipDirectory(entries: entries, offset: start, size: end - start, isZip64: isZip64)
    }
}
