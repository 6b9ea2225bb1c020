#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where a RIFF/RIFX WAVE file's `data` chunk starts and how many bytes its header claims.
///
/// Why: libsndfile silently clamps a `data` chunk that claims more bytes than the file holds (it logs
/// "data : 64000 (should be 1001)" and then reports only the frames present), so a cut-off download would decode
/// as a short clip without any error. Comparing the declared size with the bytes present lets the decoder
/// report the truncation. Only the chunk headers are read (8 bytes each, at most `maxChunks` of them); no size
/// from the file is ever used to allocate memory.
struct RIFFDataChunk: Equatable {
    /// File offset of the first audio byte.
    let dataOffset: Int64
    /// The size field of the `data` chunk.
    let declaredBytes: UInt64
    /// `nBlockAlign` from the `fmt ` chunk (bytes per frame for PCM and float), 0 when absent.
    let blockAlign: Int

    static let maxChunks = 4096

    /// Size fields that writers use for "length unknown" (streamed output): 0, 0xFFFFFFFF, and sox's
    /// `MS_UNSPEC` 0x7FFFF000. A file carrying one of these is not called truncated.
    static let unknownSizeMarkers: Set<UInt64> = [0, 0xFFFF_FFFF, 0x7FFF_F000]

    /// Bytes of audio actually present after the chunk header.
    func availableBytes(fileSize: Int64) -> Int64 { max(0, fileSize - dataOffset) }

    /// True when the header claims more audio than the file holds and the claim is not an "unknown" marker.
    func isTruncated(fileSize: Int64) -> Bool {
        !Self.unknownSizeMarkers.contains(declaredBytes) && declaredBytes > UInt64(availableBytes(fileSize: fileSize))
    }

    /// Walks the chunk list of an open file; nil when it is not RIFF/RIFX WAVE or has no `data` chunk
    /// (RF64 and other containers are left to libsndfile).
    static func locate(fd: Int32, fileSize: Int64) -> RIFFDataChunk? {
        locate(AudioBytes(fd: fd, size: fileSize))
    }

    /// The same walk over any random-access bytes (a file, or an upload held in memory).
    static func locate(_ source: AudioBytes) -> RIFFDataChunk? {
        let fileSize = source.size
        guard let bigEndian = waveByteOrder(source) else { return nil }

        var position: Int64 = 12
        var blockAlign = 0
        var chunk = [UInt8](repeating: 0, count: 8)
        for _ in 0..<maxChunks {
            guard position + 8 <= fileSize, source.readExactly(into: &chunk, at: position) else { return nil }
            let size = UInt64(field32(chunk, 4, bigEndian: bigEndian))
            let isData = chunk[0] == 0x64 && chunk[1] == 0x61 && chunk[2] == 0x74 && chunk[3] == 0x61  // "data"
            let isFormat = chunk[0] == 0x66 && chunk[1] == 0x6D && chunk[2] == 0x74 && chunk[3] == 0x20  // "fmt "
            if isData {
                return RIFFDataChunk(dataOffset: position + 8, declaredBytes: size, blockAlign: blockAlign)
            }
            if isFormat, size >= 14 {
                var format = [UInt8](repeating: 0, count: 14)
                if source.readExactly(into: &format, at: position + 8) {
                    // WAVEFORMAT: wFormatTag(2) nChannels(2) nSamplesPerSec(4) nAvgBytesPerSec(4) nBlockAlign(2)
                    blockAlign = Int(bigEndian ? UInt16(format[12]) << 8 | UInt16(format[13])
                                              : UInt16(format[13]) << 8 | UInt16(format[12]))
                }
            }
            // Chunks are padded to an even length.
            position += 8 + Int64(size) + Int64(size & 1)
        }
        return nil
    }

    /// Whether the file is a RIFF (little-endian, false) or RIFX (big-endian, true) WAVE file; nil for anything else.
    static func waveByteOrder(_ source: AudioBytes) -> Bool? {
        var header = [UInt8](repeating: 0, count: 12)
        guard source.readExactly(into: &header, at: 0) else { return nil }
        let bigEndian: Bool
        switch (header[0], header[1], header[2], header[3]) {
        case (0x52, 0x49, 0x46, 0x46): bigEndian = false  // "RIFF"
        case (0x52, 0x49, 0x46, 0x58): bigEndian = true  // "RIFX"
        default: return nil
        }
        guard header[8] == 0x57, header[9] == 0x41, header[10] == 0x56, header[11] == 0x45 else { return nil }  // "WAVE"
        return bigEndian
    }

    static func field32(_ b: [UInt8], _ at: Int, bigEndian: Bool) -> UInt32 {
        let bytes = (UInt32(b[at]), UInt32(b[at + 1]), UInt32(b[at + 2]), UInt32(b[at + 3]))
        return bigEndian ? bytes.0 << 24 | bytes.1 << 16 | bytes.2 << 8 | bytes.3
                         : bytes.3 << 24 | bytes.2 << 16 | bytes.1 << 8 | bytes.0
    }
}
