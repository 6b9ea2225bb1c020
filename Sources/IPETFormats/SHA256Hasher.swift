import COpenSSL

/// Incremental SHA-256 through OpenSSL's libcrypto (EVP interface).
public final class SHA256Hasher {
    private let context: OpaquePointer

    public init() {
        context = EVP_MD_CTX_new()
        EVP_DigestInit_ex(context, EVP_sha256(), nil)
    }

    deinit { EVP_MD_CTX_free(context) }

    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        EVP_DigestUpdate(context, base, bytes.count)
    }

    public func finalize() -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &digest, &length)
        return Array(digest.prefix(Int(length)))
    }
}

extension SHA256Hasher {
    /// Appends a little-endian u64 (lengths and counts in our digests).
    public func update(u64 value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { update($0) }
    }

    /// Appends `u64le(byte count)` and the UTF-8 bytes of `text`, so that no two sequences of strings hash alike.
    public func update(lengthPrefixed text: String) {
        let bytes = Array(text.utf8)
        update(u64: UInt64(bytes.count))
        update(bytes)
    }

    /// The digest as `sha256:` + 64 lower-case hex digits.
    public func finalizeText() -> String { "sha256:" + finalize().map { hex($0) }.joined() }

    private func hex(_ b: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(b >> 4)], digits[Int(b & 15)]])
    }
}
