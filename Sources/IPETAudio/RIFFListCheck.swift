#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Checks the `LIST` chunks of a RIFF/RIFX WAVE file before libsndfile parses them.
///
/// Why: libsndfile 1.2 walks a `LIST` chunk's sub-chunks trusting their size fields; a sub-chunk that claims more
/// bytes than its `LIST` holds (AudioFuzz: a `LIST` of 64 bytes of 0xFF, sizes 0xFFFFFFFF) makes `sf_open` spin
/// for ever inside the header parser. Every sub-chunk of every `LIST` must fit in it (8-byte header, padded to
/// an even length, as the RIFF specification lays them out). Only chunk headers are read, at most
/// `RIFFDataChunk.maxChunks` top-level chunks and as many sub-chunks; no size from the file allocates memory.
enum RIFFListCheck {
    /// The first malformed `LIST` chunk, described, or nil (also for files that are not RIFF/RIFX WAVE).
    static func problem(fd: Int32, fileSize: Int64) -> String? {
        problem(AudioBytes(fd: fd, size: fileSize))
    }

    /// The same check over any random-access bytes (a file, or an upload held in memory).
    static func problem(_ source: AudioBytes) -> String? {
        let fileSize = source.size
        guard let bigEndian = RIFFDataChunk.waveByteOrder(source) else { return nil }
        var position: Int64 = 12
        for _ in 0..<RIFFDataChunk.maxChunks {
            guard position + 8 <= fileSize, let chunk = read(source, 8, at: position) else { return nil }
            let size = Int64(RIFFDataChunk.field32(chunk, 4, bigEndian: bigEndian))
            if chunk[0] == 0x4C, chunk[1] == 0x49, chunk[2] == 0x53, chunk[3] == 0x54 {  // "LIST"
                let end = min(position + 8 + size, fileSize)  // a list cut off by the end of the file ends there
                guard size >= 4 else { return "LIST chunk at byte \(position) is \(size) bytes, too short for its type" }
                var sub = position + 12
                var count = 0
                while sub + 8 <= end {
                    count += 1
                    guard count <= RIFFDataChunk.maxChunks, let subHeader = read(source, 8, at: sub) else { return nil }
                    let subSize = Int64(RIFFDataChunk.field32(subHeader, 4, bigEndian: bigEndian))
                    guard subSize <= end - sub - 8 else {
                        return "LIST chunk at byte \(position): sub-chunk at byte \(sub) claims \(subSize) bytes, "
                            + "more than the \(end - sub - 8) left in its list or file"
                    }
                    sub += 8 + subSize + (subSize & 1)
                }
            }
            position += 8 + size + (size & 1)
        }
        return nil
    }

    private static func read(_ source: AudioBytes, _ count: Int, at offset: Int64) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: count)
        return source.readExactly(into: &buffer, at: offset) ? buffer : nil
    }
}
