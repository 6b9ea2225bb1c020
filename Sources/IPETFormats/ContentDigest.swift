/// The integrity digest that files we write carry in their own metadata (`Formats/safetensors.md` §4): packs,
/// converted checkpoints and embedding files. A flipped bit anywhere in a tensor's data, a name, a dtype, a shape or
/// a metadata value changes it, so a damaged file is refused by name instead of quietly giving other numbers.
///
/// Digest v1 = SHA-256 of
///
///     "ipet-content-v1\n"
///     u64le(metadata count) then, sorted by key (UTF-8 byte order), every metadata entry except this one's
///         own key: u64le(len) key bytes, u64le(len) value bytes
///     u64le(tensor count) then, sorted by name (UTF-8 byte order), every tensor:
///         u64le(len) name, u64le(len) dtype name (e.g. "F16"), u64le(rank), u64le(dim) each,
///         u64le(len) data — the tensor's bytes exactly as stored (little-endian, in its own dtype)
///
/// written `sha256:` + 64 lower-case hex digits under the metadata key `ipet.content_sha256`. Lengths before every
/// variable-size field keep two different files from hashing the same sequence of bytes.
public enum ContentDigest {
    public static let metadataKey = "ipet.content_sha256"

    /// One tensor as it is stored.
    public struct Tensor {
        public let name: String
        public let dtype: String
        public let shape: [Int]
        public let bytes: UnsafeRawBufferPointer

        public init(name: String, dtype: String, shape: [Int], bytes: UnsafeRawBufferPointer) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.bytes = bytes
        }
    }

    /// What a reader found.
    public enum Check: Equatable, Sendable {
        /// The recorded digest equals the content's.
        case verified
        /// The file records no digest (written before digests, or by another tool): its integrity cannot be checked.
        case absent
        case mismatch(recorded: String, computed: String)
    }

    public static func compute(metadata: [(key: String, value: String)], tensors: [Tensor]) -> String {
        compute(metadata: metadata, names: tensors.map(\.name)) { i, hasher in
            hash(name: tensors[i].name, dtype: tensors[i].dtype, shape: tensors[i].shape, bytes: tensors[i].bytes, into: hasher)
        }
    }

    /// The same digest for tensors whose bytes are only reachable inside a closure: `feed(i, hasher)` must call
    /// `hash(name:dtype:shape:bytes:into:)` for tensor `i` of `names`.
    public static func compute(metadata: [(key: String, value: String)], names: [String], feed: (Int, SHA256Hasher) -> Void) -> String {
        let hasher = SHA256Hasher()
        hasher.update(Array("ipet-content-v1\n".utf8))
        let entries = metadata.filter { $0.key != metadataKey }.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        hasher.update(u64: UInt64(entries.count))
        for entry in entries {
            hasher.update(lengthPrefixed: entry.key)
            hasher.update(lengthPrefixed: entry.value)
        }
        hasher.update(u64: UInt64(names.count))
        for i in names.indices.sorted(by: { names[$0].utf8.lexicographicallyPrecedes(names[$1].utf8) }) { feed(i, hasher) }
        return hasher.finalizeText()
    }

    /// One tensor's share of the digest.
    public static func hash(name: String, dtype: String, shape: [Int], bytes: UnsafeRawBufferPointer, into hasher: SHA256Hasher) {
        hasher.update(lengthPrefixed: name)
        hasher.update(lengthPrefixed: dtype)
        hasher.update(u64: UInt64(shape.count))
        for d in shape { hasher.update(u64: UInt64(d)) }
        hasher.update(u64: UInt64(bytes.count))
        hasher.update(bytes)
    }

    /// The digest of a safetensors file's content (its recorded digest excluded).
    public static func compute(_ file: SafeTensorsFile) -> String {
        compute(metadata: file.metadata, tensors: file.tensors.map {
            Tensor(name: $0.name, dtype: $0.dtype.rawValue, shape: $0.shape, bytes: file.rawBytes($0))
        })
    }

    /// Compares the digest `file` records with its content.
    public static func check(_ file: SafeTensorsFile) -> Check {
        guard let recorded = file.metadataValue(metadataKey) else { return .absent }
        let computed = compute(file)
        return recorded == computed ? .verified : .mismatch(recorded: recorded, computed: computed)
    }

    /// The digest of an HDF5 tensor container's content as it is (or will be) stored: every tensor in `dtype`
    /// (its own stored dtype when nil), little-endian, exactly the bytes a safetensors file would hold.
    public static func compute(_ container: HDF5TensorContainer, storedAs dtype: DType? = nil) -> String {
        compute(metadata: container.metadata, names: container.tensors.map(\.name)) { i, hasher in
            let t = container.tensors[i]
            let stored = dtype ?? t.dtype
            var bytes: [UInt8] = []
            switch stored {
            case .f16: for v in t.values { withUnsafeBytes(of: HalfFloat.halfBits(from: v).littleEndian) { bytes.append(contentsOf: $0) } }
            case .bf16: for v in t.values { withUnsafeBytes(of: HalfFloat.bfloat16Bits(from: v).littleEndian) { bytes.append(contentsOf: $0) } }
            case .f64: for v in t.values { withUnsafeBytes(of: Double(v).bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
            default: for v in t.values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
            }
            bytes.withUnsafeBytes { hash(name: t.name, dtype: stored.rawValue, shape: t.shape, bytes: $0, into: hasher) }
        }
    }

    /// Compares the digest a container records with its content.
    public static func check(_ container: HDF5TensorContainer) -> Check {
        guard let recorded = container.metadataValue(metadataKey) else { return .absent }
        let computed = compute(container)
        return recorded == computed ? .verified : .mismatch(recorded: recorded, computed: computed)
    }

    /// The one-line explanation of a mismatch, for the reader's error naming the file.
    public static func mismatchMessage(recorded: String, computed: String) -> String {
        "the file is damaged or was changed after it was written: its content digest is \(computed), but it records "
            + "\(printableUntrusted(recorded, limit: 80)) (\(metadataKey))"
    }
}
