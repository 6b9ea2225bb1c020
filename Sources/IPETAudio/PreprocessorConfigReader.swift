import IPETFormats

/// Typed look-ups in a transformers `preprocessor_config.json` object.
///
/// Absent keys and JSON `null` take the transformers default (the extractor's `__init__` default); a key that
/// is present with the wrong type is an error rather than silently defaulted, so a typo such as
/// `"num_mel_bins": "128"` cannot produce features the model was never trained on.
struct PreprocessorConfigReader {
    let json: JSONValue

    init(_ json: JSONValue) throws(PreprocessorConfigError) {
        guard json.object != nil else { throw PreprocessorConfigError(key: nil, reason: "is not a JSON object") }
        self.json = json
    }

    private func present(_ key: String) -> JSONValue? {
        guard let value = json[key] else { return nil }
        if case .null = value { return nil }
        return value
    }

    func int(_ key: String, default fallback: Int) throws(PreprocessorConfigError) -> Int {
        guard let value = present(key) else { return fallback }
        guard let v = value.int else { throw PreprocessorConfigError(key: key, reason: "must be an integer, got \(value.compactText)") }
        return v
    }

    func double(_ key: String, default fallback: Double) throws(PreprocessorConfigError) -> Double {
        guard let value = present(key) else { return fallback }
        guard let v = value.double, v.isFinite else {
            throw PreprocessorConfigError(key: key, reason: "must be a finite number, got \(value.compactText)")
        }
        return v
    }

    func bool(_ key: String, default fallback: Bool) throws(PreprocessorConfigError) -> Bool {
        guard let value = present(key) else { return fallback }
        guard let v = value.bool else { throw PreprocessorConfigError(key: key, reason: "must be true or false, got \(value.compactText)") }
        return v
    }

    /// When `feature_extractor_type` is given it must be one of `accepted`: an AST config handed to the wav2vec 2.0
    /// path (or the reverse) would otherwise load with defaults and run.
    func requireType(_ accepted: [String]) throws(PreprocessorConfigError) {
        guard let value = present("feature_extractor_type") else { return }
        guard let name = value.string else {
            throw PreprocessorConfigError(key: "feature_extractor_type", reason: "must be a string, got \(value.compactText)")
        }
        guard accepted.contains(name) else {
            throw PreprocessorConfigError(key: "feature_extractor_type",
                                          reason: "is \(name), expected \(accepted.joined(separator: " or "))")
        }
    }

    /// Reads and parses `path` with the strict JSON reader, then runs `body` on it; errors name the file.
    static func load<T>(_ path: String, _ body: (JSONValue) throws(PreprocessorConfigError) -> T)
        throws(PreprocessorConfigError) -> T
    {
        let json: JSONValue
        do {
            json = try JSONFile.read(path)
        } catch {
            throw PreprocessorConfigError(path: path, key: nil, reason: error.reason)
        }
        do {
            return try body(json)
        } catch {
            throw error.located(at: path)
        }
    }
}
