import IPETFormats

/// The model families this project runs, recognised from a Hugging Face `config.json`.
public enum Architecture: String, Sendable, CaseIterable {
    case ast = "audio-spectrogram-transformer"
    case wav2vec2 = "wav2vec2"

    /// Human-readable name.
    public var displayName: String {
        switch self {
        case .ast: return "AST (Audio Spectrogram Transformer)"
        case .wav2vec2: return "wav2vec 2.0"
        }
    }

    /// Recognises the family from `model_type`, falling back to the `architectures` class names.
    public static func detect(config: JSONValue) -> Architecture? {
        if let type = config["model_type"]?.string {
            switch type {
            case "audio-spectrogram-transformer", "audio_spectrogram_transformer", "ast": return .ast
            case "wav2vec2": return .wav2vec2
            default: break
            }
        }
        for name in config["architectures"]?.array?.compactMap(\.string) ?? [] {
            if name.hasPrefix("AST") { return .ast }
            if name.hasPrefix("Wav2Vec2") { return .wav2vec2 }
        }
        return nil
    }
}
