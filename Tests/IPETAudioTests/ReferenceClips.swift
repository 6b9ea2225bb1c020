import IPETTestSupport

/// The clips in `Fixtures/audio/` and what `tools/make_audio_fixtures.py` recorded for them in
/// `Fixtures/audio/reference.safetensors`: `<clip>.decoded` (soundfile float32, channels averaged, native rate)
/// and `<clip>.16k` (python-soxr HQ to 16 kHz, or a copy at 16 kHz).
enum ReferenceClips {
    struct Clip: Sendable, CustomStringConvertible {
        let name: String
        let file: String
        let sampleRate: Int
        let channels: Int
        var description: String { name }
    }

    static let all: [Clip] = [
        Clip(name: "silence_1s_16k", file: "silence_1s_16k.wav", sampleRate: 16000, channels: 1),
        Clip(name: "tone440_2s_16k", file: "tone440_2s_16k.wav", sampleRate: 16000, channels: 1),
        Clip(name: "noise_3s_16k", file: "noise_3s_16k.flac", sampleRate: 16000, channels: 1),
        Clip(name: "chirp_6s_16k", file: "chirp_6s_16k.wav", sampleRate: 16000, channels: 1),
        Clip(name: "short_0p5s_16k", file: "short_0p5s_16k.wav", sampleRate: 16000, channels: 1),
        Clip(name: "stereo_44k1", file: "stereo_44k1.wav", sampleRate: 44100, channels: 2),
        Clip(name: "mono_8k", file: "mono_8k.wav", sampleRate: 8000, channels: 1),
        Clip(name: "tiny_300samples_16k", file: "tiny_300samples_16k.wav", sampleRate: 16000, channels: 1),
    ]

    /// Clips long enough for at least one 400-sample Kaldi window at 16 kHz.
    static var framed: [Clip] { all.filter { $0.name != "tiny_300samples_16k" } }

    /// Clips whose native rate is not 16 kHz.
    static var resampled: [Clip] { all.filter { $0.sampleRate != 16000 } }

    static func path(_ clip: Clip) -> String { Fixtures.path("audio/\(clip.file)") }
}
