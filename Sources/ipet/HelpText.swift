/// Help wording shared by several commands, so every command says the same thing about the same argument.
/// Prose is written as unwrapped paragraphs: the argument parser wraps it to the terminal's width.
enum HelpText {
    static let backbone = "The model: a Hugging Face folder (config.json and model.safetensors, pytorch_model.bin or "
        + "tf_model.h5, sharded or not; optional preprocessor_config.json), or one file: .safetensors (e.g. from ipet "
        + "convert), a PyTorch .bin/.pth (also the original AST code's), a TensorFlow .h5 or an ipet HDF5 file."

    static let inputs = "Audio files (anything libsndfile reads: WAV, FLAC, OGG, Opus, MP3, ...), folders (searched "
        + "recursively) and manifests (.csv, .tsv or .jsonl with a path and an optional label column)."

    static let pack = "An IPET adapter pack (.ipet) made for this backbone."
}
