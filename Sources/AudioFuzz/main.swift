import FuzzSupport
import IPETAudio

/// libFuzzer entry point for audio decoding: our RIFF/RIFX chunk walk (`RIFFDataChunk`, which reports a cut-off
/// `data` chunk libsndfile would silently clamp) and `AudioDecoder.decode` through libsndfile, under both
/// truncation policies, from a file and from memory (`decode(bytes:)`, libsndfile's virtual I/O, as `ipet serve`
/// decodes uploads), which must agree. Each input is written to a scratch file in /dev/shm for the file path. Only our
/// code is instrumented for coverage; a crash inside libsndfile still stops the run and is a finding to report.
/// The decoded length is capped at 2^22 frames (the decoder's own `maximumFrames` bound, set low so one input cannot
/// spend the whole time budget decoding; the default cap is one hour at 192 kHz).
///   swift build --sanitize fuzzer --product AudioFuzz --scratch-path .build-fuzz-audio
///   SWIFT_BACKTRACE=enable=no .build-fuzz-audio/debug/AudioFuzz <corpus> -dict=tools/fuzz-seeds/audio.dict
/// Where inputs are written; a static, so it exists on first use whichever `main` runs (libFuzzer's does).
enum Scratch { static let file = ScratchFile(name: "audio", extension: "wav") }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAudio(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard Scratch.file.replace(with: UnsafeRawBufferPointer(start: data, count: size)) else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    for policy in [AudioDecoder.TruncationPolicy.reject, .decodeAvailable] {
        let decoder = AudioDecoder(truncation: policy, maximumFrames: 1 << 22)
        let fromFile = Result { () throws(AudioError) in try decoder.decode(path: Scratch.file.path) }
        if case let .success(audio) = fromFile {
            precondition(!audio.samples.isEmpty && audio.samples.count <= 1 << 22, "decoded \(audio.samples.count) frames")
            precondition(audio.samples.allSatisfy(\.isFinite), "decoded audio holds NaN or infinity")
        }
        // An upload decoded from memory (`ipet serve`) must meet the same checks with the same outcome.
        let fromMemory = Result { () throws(AudioError) in try decoder.decode(bytes: bytes, name: Scratch.file.path) }
        switch (fromFile, fromMemory) {
        case let (.success(a), .success(b)):
            precondition(a.sampleRate == b.sampleRate && a.samples.map(\.bitPattern) == b.samples.map(\.bitPattern),
                         "decoding from memory gave other samples than from the file")
        case let (.failure(a), .failure(b)):
            precondition(a == b, "from the file: \(a); from memory: \(b)")
        default:
            preconditionFailure("from the file: \(fromFile); from memory: \(fromMemory)")
        }
    }
    return 0
}
