import CSndFile
import Foundation
import IPETFormats

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Decodes any file libsndfile reads (WAV in every sample format, AIFF, FLAC, OGG Vorbis, Opus, MP3, ...) to
/// mono Float32 at the file's own sample rate.
///
/// Channels are averaged the way `soundfile.read(path, dtype="float32")` followed by numpy's
/// `x.mean(axis=1)` does it: a Float32 sum over the channels in order, then one Float32 division by the channel
/// count (identical to numpy for up to 8 channels, where numpy's pairwise sum is still a plain loop). Where that
/// Float32 sum overflows (float samples near ±3.4e38), numpy gives ±inf and we give the exact mean instead.
/// Integer PCM is scaled by libsndfile (16-bit: x/32768); float files come through as stored.
///
/// Hostile files: frames are read in bounded chunks (`sf_readf_float`, 64 Ki samples), the header's frame count
/// only sizes an initial reservation of `min(declared, file size in bytes, maximumFrames, 2^24)`, and the total
/// is capped by `maximumFrames`. A file whose header promises more audio than it holds is rejected as `.truncated` by default
/// (policy `.reject`), because a cut-off file usually means a failed copy and a silently shortened clip would
/// give a silently different prediction; `.decodeAvailable` returns what is there instead. Truncation is
/// detected two ways: a RIFF WAVE `data` chunk larger than the rest of the file (libsndfile clamps it without
/// an error, see `RIFFDataChunk`), or fewer frames decoded than the container declared (FLAC, OGG, AIFF...;
/// not applied to MP3, whose declared length is an estimate).
public struct AudioDecoder: Sendable {
    public enum TruncationPolicy: Sendable, Equatable {
        /// Throw `AudioError.Problem.truncated`.
        case reject
        /// Return the frames that are present.
        case decodeAvailable
    }

    public var truncation: TruncationPolicy
    /// Upper bound on decoded frames (per channel); longer files throw `.tooLong`.
    public var maximumFrames: Int
    /// Upper bound on the decoded duration, applied once the file's rate is known (nil: only `maximumFrames`).
    /// What a server sets: a few kilobytes of losslessly compressed silence, or a header claiming 1 Hz, decode to
    /// hours, and the frame limit alone would let one small upload take gigabytes after resampling.
    public var maximumSeconds: Double?

    /// One hour at 192 kHz: 691 200 000 frames, 2.6 GiB of mono Float32.
    public static let defaultMaximumFrames = 192_000 * 3600

    /// Frames per `sf_readf_float` call (times the channel count is the scratch buffer size).
    static let chunkSamples = 1 << 16

    public init(truncation: TruncationPolicy = .reject, maximumFrames: Int = AudioDecoder.defaultMaximumFrames,
                maximumSeconds: Double? = nil) {
        self.truncation = truncation
        self.maximumFrames = maximumFrames
        self.maximumSeconds = maximumSeconds
    }

    /// Decodes `path` to mono Float32 at its native rate.
    public func decode(path: String) throws(AudioError) -> DecodedAudio {
        try decode(fileSystemPath: Array(path.utf8), name: path)
    }

    /// Decodes the file at the file-system path `bytes` (any bytes: names need not be UTF-8), named `name` in errors.
    public func decode(fileSystemPath bytes: [UInt8], name path: String) throws(AudioError) -> DecodedAudio {
        func fail(_ problem: AudioError.Problem) -> AudioError { AudioError(path: path, problem: problem) }

        // Checked before it is opened, so a FIFO or a device never blocks or streams forever.
        let fd: Int32
        do { fd = try RegularFile.open(bytes: bytes, name: path) } catch {
            throw fail(.cannotOpen(error.reason.hasPrefix("cannot open: ") ? String(error.reason.dropFirst(13)) : error.reason))
        }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw fail(.cannotOpen(String(cString: strerror(errno)))) }
        // libsndfile gets a descriptor of its own, which it always closes: since 1.0.30 `sf_open_fd` closes the
        // descriptor it was given when the open fails, even with `close_desc` false (libsndfile issues #948,
        // #949), so lending it ours made a refused file close `fd` twice, the second time possibly another
        // thread's newly opened file under the same number.
        // The duplicate is close-on-exec like `fd`, so a process spawned meanwhile inherits neither.
        return try decode(AudioBytes(fd: fd, size: Int64(status.st_size)), name: path) { (info) throws(AudioError) in
            let owned = fcntl(fd, F_DUPFD_CLOEXEC, 0)
            guard owned >= 0 else { throw fail(.cannotOpen(String(cString: strerror(errno)))) }
            return sf_open_fd(owned, Int32(SFM_READ), &info, 1)
        }
    }

    /// Decodes a whole audio file held in memory (an upload), named `name` in errors: the same checks and results
    /// as decoding the same bytes from a file, through libsndfile's virtual I/O instead of a file descriptor.
    public func decode(bytes: [UInt8], name path: String) throws(AudioError) -> DecodedAudio {
        let stream = MemoryAudioStream(bytes)
        return try withExtendedLifetime(stream) { () throws(AudioError) -> DecodedAudio in
            try decode(AudioBytes(bytes), name: path) { info in
                var io = MemoryAudioStream.callbacks
                return sf_open_virtual(&io, Int32(SFM_READ), &info, Unmanaged.passUnretained(stream).toOpaque())
            }
        }
    }

    /// The decoding both entry points share: `open` opens `source` with libsndfile (under `SndFileLock`).
    private func decode(_ source: AudioBytes, name path: String,
                        open: (inout SF_INFO) throws(AudioError) -> OpaquePointer?) throws(AudioError) -> DecodedAudio {
        func fail(_ problem: AudioError.Problem) -> AudioError { AudioError(path: path, problem: problem) }
        let fileSize = source.size
        guard fileSize > 0 else { throw fail(.empty) }

        if let problem = RIFFListCheck.problem(source) { throw fail(.notAudio(problem)) }

        var info = SF_INFO()
        let file: OpaquePointer = try SndFileLock.withLock { () throws(AudioError) -> OpaquePointer in
            guard let opened = try open(&info) else {
                throw fail(.notAudio(String(cString: sf_strerror(nil))))
            }
            return opened
        }
        defer { SndFileLock.withLock { _ = sf_close(file) } }

        guard info.channels > 0 else { throw fail(.zeroChannels) }
        guard info.samplerate > 0 else { throw fail(.invalidSampleRate(Int(info.samplerate))) }
        let channels = Int(info.channels)
        let declaredFrames = info.frames  // SF_COUNT_MAX or garbage for some streams; never trusted for memory
        let majorFormat = info.format & Int32(SF_FORMAT_TYPEMASK)

        if truncation == .reject, let chunk = RIFFDataChunk.locate(source),
            chunk.isTruncated(fileSize: fileSize)
        {
            let width = UInt64(max(chunk.blockAlign, 1))
            throw fail(.truncated(declaredFrames: Int64(clamping: chunk.declaredBytes / width),
                                  availableFrames: chunk.availableBytes(fileSize: fileSize) / Int64(width)))
        }

        let chunkFrames = max(1, Self.chunkSamples / channels)
        var scratch = [Float](repeating: 0, count: chunkFrames * channels)
        var mono: [Float] = []
        // A header may claim 2^40 frames; reserve no more than the file could hold uncompressed (compressed
        // files that decode to more simply grow the array).
        var frameLimit = maximumFrames
        if let maximumSeconds, maximumSeconds.isFinite, maximumSeconds >= 0 {
            frameLimit = min(frameLimit, Int((maximumSeconds * Double(info.samplerate)).rounded(.up)))
        }
        let plausible = min(Int(clamping: declaredFrames), Int(clamping: fileSize), frameLimit, 1 << 24)
        let reservation = declaredFrames > 0 ? plausible : chunkFrames
        mono.reserveCapacity(reservation)
        let scale = Float(channels)

        while true {
            let got = scratch.withUnsafeMutableBufferPointer { sf_readf_float(file, $0.baseAddress, sf_count_t(chunkFrames)) }
            if got <= 0 { break }
            let frames = Int(got)
            guard mono.count + frames <= frameLimit else { throw fail(.tooLong(limitFrames: frameLimit)) }
            // Float formats can carry NaN / infinity, which would turn every score into NaN downstream.
            if let bad = scratch.withUnsafeBufferPointer({ $0[0..<(frames * channels)].firstIndex { !$0.isFinite } }) {
                throw fail(.nonFinite(frame: mono.count + bad / channels))
            }
            scratch.withUnsafeBufferPointer { interleaved in
                if channels == 1 {
                    mono.append(contentsOf: interleaved[0..<frames])
                    return
                }
                let start = mono.count
                mono.append(contentsOf: repeatElement(0, count: frames))
                mono.withUnsafeMutableBufferPointer { out in
                    for f in 0..<frames {
                        let base = f * channels
                        var sum = interleaved[base]
                        for c in 1..<channels { sum += interleaved[base + c] }
                        var mean = sum / scale
                        if !mean.isFinite {
                            // The Float32 sum of finite samples near ±3.4e38 (float files only) overflowed, where
                            // numpy gives ±inf: the exact mean is finite, so take it in Double.
                            var wide = 0.0
                            for c in 0..<channels { wide += Double(interleaved[base + c]) }
                            mean = Float(wide / Double(channels))
                        }
                        out[start + f] = mean
                    }
                }
            }
        }

        // A cut-off compressed stream shows up as fewer frames than declared, often with a decoder error too;
        // "truncated" is the more useful report of the two. `.decodeAvailable` keeps whatever decoded cleanly.
        let readError = sf_error(file) != 0 ? String(cString: sf_strerror(file)) : nil
        let decoded = Int64(mono.count)
        let short = majorFormat != Int32(SF_FORMAT_MPEG) && declaredFrames > 0 && declaredFrames != Int64.max
            && decoded < declaredFrames
        switch truncation {
        case .reject:
            if short { throw fail(.truncated(declaredFrames: declaredFrames, availableFrames: decoded)) }
            if let readError { throw fail(.readFailed(readError)) }
        case .decodeAvailable:
            if let readError, mono.isEmpty { throw fail(.readFailed(readError)) }
        }
        guard !mono.isEmpty else { throw fail(.noSamples) }
        return DecodedAudio(samples: mono, sampleRate: Int(info.samplerate), sourceChannels: channels)
    }

    /// Decodes with the default policy (reject truncated files, one-hour-at-192-kHz cap).
    public static func decode(path: String) throws(AudioError) -> DecodedAudio {
        try AudioDecoder().decode(path: path)
    }
}
