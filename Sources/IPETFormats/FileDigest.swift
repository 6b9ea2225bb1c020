/// SHA-256 of a whole file as `sha256:<hex>`: speaker-embedding caches record the pack they were computed with.
public enum FileDigest {
    public static func sha256(path: String) throws(FileError) -> String {
        let file = try MappedFile(path: path)
        let hasher = SHA256Hasher()
        hasher.update(file.bytes)
        return hasher.finalizeText()
    }
}
