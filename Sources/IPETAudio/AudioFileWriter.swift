import CSndFile
import IPETFormats

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes Float32 audio with libsndfile, in the containers and codecs `AudioDecoder` is tested against.
///
/// Why it exists: tests make their own OGG, Opus and MP3 files (fixtures are WAV/FLAC only), and the command-line
/// tool can save what the pipeline actually heard (after decoding and resampling) for a listener to check.
public enum AudioFileWriter {
    public enum Format: Sendable, CaseIterable {
        case wavPCM16, wavPCM24, wavFloat32, flacPCM16, oggVorbis
        /// Opus accepts only 8, 12, 16, 24 and 48 kHz.
        case oggOpus
        /// MPEG-1/2 Layer III (libsndfile built with LAME).
        case mp3

        var sndfileFormat: Int32 {
            switch self {
            case .wavPCM16: return Int32(SF_FORMAT_WAV | SF_FORMAT_PCM_16)
            case .wavPCM24: return Int32(SF_FORMAT_WAV | SF_FORMAT_PCM_24)
            case .wavFloat32: return Int32(SF_FORMAT_WAV | SF_FORMAT_FLOAT)
            case .flacPCM16: return Int32(SF_FORMAT_FLAC | SF_FORMAT_PCM_16)
            case .oggVorbis: return Int32(SF_FORMAT_OGG | SF_FORMAT_VORBIS)
            case .oggOpus: return Int32(SF_FORMAT_OGG | SF_FORMAT_OPUS)
            case .mp3: return Int32(SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III)
            }
        }
    }

    /// Writes `interleaved` (frame-major, `channels` values per frame) to `path`, replacing any existing file.
    /// Samples outside [-1, 1] are clipped by libsndfile for integer formats.
    ///
    /// The file is written beside `path` under a fresh name and renamed into place once libsndfile has closed it,
    /// so a failed write (full disk, an encoder error) leaves any old file as it was and never a partial one that
    /// would decode as a shorter clip.
    public static func write(interleaved: [Float], channels: Int, sampleRate: Int, format: Format, to path: String)
        throws(AudioError)
    {
        func fail(_ reason: String) -> AudioError { AudioError(path: path, problem: .writeFailed(reason)) }
        guard channels > 0, interleaved.count % channels == 0 else {
            throw fail("\(interleaved.count) samples do not split into \(channels) channels")
        }
        guard sampleRate > 0, sampleRate <= Int(Int32.max) else { throw fail("invalid sample rate \(sampleRate)") }
        var info = SF_INFO()
        info.samplerate = Int32(sampleRate)
        info.channels = Int32(channels)
        info.format = format.sndfileFormat
        guard sf_format_check(&info) != 0 else { throw fail("libsndfile cannot write \(format) at \(sampleRate) Hz") }
        let staging = AtomicFile.temporaryPath(beside: path)
        let file: OpaquePointer = try SndFileLock.withLock { () throws(AudioError) -> OpaquePointer in
            guard let opened = sf_open(staging, Int32(SFM_WRITE), &info) else {
                unlink(staging)
                throw fail(String(cString: sf_strerror(nil)))
            }
            return opened
        }
        let frames = interleaved.count / channels
        let written = interleaved.withUnsafeBufferPointer { sf_writef_float(file, $0.baseAddress, sf_count_t(frames)) }
        let writeError = written == frames ? nil : String(cString: sf_strerror(file))
        let closeStatus = SndFileLock.withLock { sf_close(file) }
        var problem = writeError ?? (closeStatus == 0 ? nil : String(cString: sf_error_number(closeStatus)))
        if problem == nil, rename(staging, path) != 0 { problem = "cannot rename into place: \(String(cString: strerror(errno)))" }
        if let problem {
            unlink(staging)
            throw fail(problem)
        }
    }
}
