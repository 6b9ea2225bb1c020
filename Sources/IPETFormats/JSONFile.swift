#if canImport(Glibc)
    import Glibc
#endif

/// Reads small JSON documents (config.json, preprocessor_config.json, manifests) with the strict parser.
public enum JSONFile {
    /// Largest JSON side file we accept; real configs are a few kB (AudioSet's label map about 30 kB).
    public static let maxBytes = 64 << 20

    public static func read(_ path: String) throws(FileError) -> JSONValue {
        let file = try MappedFile(path: path)
        guard file.count <= maxBytes else { throw FileError(path: path, reason: "JSON file larger than \(maxBytes) bytes") }
        do {
            return try JSONParser.parse(file.bytes)
        } catch {
            throw FileError(path: path, reason: "invalid JSON: \(error.description)")
        }
    }
}
