import CSndFile

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The bytes of an audio file, read at any offset: an open regular file (`pread`), or a whole file held in memory
/// (an HTTP upload). The decoder's own checks (`RIFFListCheck`, `RIFFDataChunk`) read through this, so they guard
/// both the same way.
struct AudioBytes {
    private enum Storage {
        case file(Int32)
        case memory([UInt8])
    }

    private let storage: Storage
    /// The file's size in bytes.
    let size: Int64

    init(fd: Int32, size: Int64) {
        storage = .file(fd)
        self.size = size
    }

    init(_ bytes: [UInt8]) {
        storage = .memory(bytes)
        size = Int64(bytes.count)
    }

    /// Fills `buffer` from `offset`; false when fewer bytes than its length are there.
    func readExactly(into buffer: inout [UInt8], at offset: Int64) -> Bool {
        let wanted = buffer.count
        switch storage {
        case .file(let fd):
            let got = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, wanted, off_t(offset)) }
            return got == wanted
        case .memory(let bytes):
            guard offset >= 0, offset <= Int64(bytes.count), Int64(bytes.count) - offset >= Int64(wanted) else { return false }
            let start = Int(offset)
            buffer.withUnsafeMutableBytes { out in
                bytes.withUnsafeBytes { out.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[start..<(start + wanted)])) }
            }
            return true
        }
    }
}

/// A read-only stream over bytes in memory for libsndfile's virtual I/O (`sf_open_virtual`): what lets an upload
/// be decoded without writing it to a file first. Reads past the end return what is there, seeks before the start
/// fail, writes are refused, as a read-only regular file would behave.
final class MemoryAudioStream {
    let bytes: [UInt8]
    var position: Int64 = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// The callbacks; each gets the stream as its `user_data` (unretained: the caller keeps the stream alive
    /// until `sf_close`).
    static var callbacks: SF_VIRTUAL_IO {
        SF_VIRTUAL_IO(
            get_filelen: { user in MemoryAudioStream.stream(user).length },
            seek: { offset, whence, user in
                let s = MemoryAudioStream.stream(user)
                let base: Int64
                switch whence {
                case SEEK_SET: base = 0
                case SEEK_CUR: base = s.position
                case SEEK_END: base = s.length
                default: return -1
                }
                let (target, overflow) = base.addingReportingOverflow(offset)
                // As on a regular file, a seek past the end is allowed (reads there return nothing).
                guard !overflow, target >= 0 else { return -1 }
                s.position = target
                return target
            },
            read: { pointer, count, user in
                let s = MemoryAudioStream.stream(user)
                guard let pointer, count > 0, s.position < s.length else { return 0 }
                let n = Int(min(count, s.length - s.position))
                let start = Int(s.position)
                s.bytes.withUnsafeBytes { source in
                    UnsafeMutableRawPointer(pointer).copyMemory(from: source.baseAddress! + start, byteCount: n)
                }
                s.position += Int64(n)
                return sf_count_t(n)
            },
            write: { _, _, _ in 0 },
            tell: { user in MemoryAudioStream.stream(user).position })
    }

    private var length: Int64 { Int64(bytes.count) }

    private static func stream(_ user: UnsafeMutableRawPointer?) -> MemoryAudioStream {
        Unmanaged<MemoryAudioStream>.fromOpaque(user!).takeUnretainedValue()
    }
}
