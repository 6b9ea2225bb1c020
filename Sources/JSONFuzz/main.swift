import IPETAudio
import IPETFormats
import IPETModels

/// libFuzzer entry point for the strict JSON reader (`JSONParser`) and the configuration readers behind it:
/// `config.json` (AST, wav2vec 2.0) and `preprocessor_config.json` (AST features, wav2vec 2.0 normaliser).
/// Accepted configurations are used the way model loading uses them first (token and frame counts, the layer
/// loop), so a value that passes the reader but breaks its first user is found too. One property (a trap is a
/// finding): the compact text of a parsed value parses again, to the same compact text.
///   swift build --sanitize fuzzer --product JSONFuzz --scratch-path .build-fuzz-json
///   SWIFT_BACKTRACE=enable=no .build-fuzz-json/debug/JSONFuzz <corpus> -dict=tools/fuzz-seeds/json.dict
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let value = try? JSONParser.parse(UnsafeRawBufferPointer(start: data, count: size)) else { return 0 }
    for text in [value.compactText, value.prettyText] {
        let again: JSONValue
        do { again = try JSONParser.parse(text) } catch { preconditionFailure("our own JSON text does not parse: \(error)\n\(text)") }
        precondition(again.compactText == value.compactText, "JSON text changes when read back:\n\(text)")
    }

    if let ast = try? ASTConfiguration(config: value, source: "<fuzz>") {
        // AudioSpectrogramTransformer.init: position embeddings for tokens(maxLength), one block per layer.
        _ = ast.tokens(frames: ast.maxLength)
        _ = ast.frequencyPatches
        _ = 0..<ast.layers
        _ = ast.labels.count
    }
    if let w2v = try? Wav2Vec2Configuration(config: value, source: "<fuzz>") {
        // Wav2Vec2Model.init and TaskModel: the conv stack's frame arithmetic, one block per layer, the heads'
        // weighted layer sum over layers + 1 outputs.
        _ = w2v.receptiveField
        _ = w2v.maximumSamples
        _ = w2v.frames(samples: 16000)
        _ = 0..<w2v.layers
        if w2v.useWeightedLayerSum { _ = w2v.layers + 1 }
        _ = w2v.labels.count
    }
    if let features = try? SpectrogramFeatures.Configuration(preprocessorConfig: value) {
        _ = features.fbankOptions
    }
    _ = try? WaveformNormalizer.Configuration(preprocessorConfig: value)
    return 0
}
