/// Writes safetensors files exactly as the reference writer lays them out (`Formats/safetensors.md` §1.2):
/// tensors sorted by descending dtype alignment then name, offsets contiguous from 0, compact JSON with
/// `__metadata__` first, header padded with spaces to a multiple of 8, written to a temporary file and renamed.
public struct SafeTensorsWriter {
    public struct Entry {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        public let data: [UInt8]

        public init(name: String, dtype: DType, shape: [Int], data: [UInt8]) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.data = data
        }

        /// Float32 values stored as `dtype` (F32, F16 or BF16).
        public init(name: String, shape: [Int], floats: [Float], as dtype: DType = .f32) {
            var bytes: [UInt8] = []
            switch dtype {
            case .f32:
                bytes.reserveCapacity(floats.count * 4)
                for v in floats { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
            case .f16:
                bytes.reserveCapacity(floats.count * 2)
                for v in floats { withUnsafeBytes(of: HalfFloat.halfBits(from: v).littleEndian) { bytes.append(contentsOf: $0) } }
            case .bf16:
                bytes.reserveCapacity(floats.count * 2)
                for v in floats { withUnsafeBytes(of: HalfFloat.bfloat16Bits(from: v).littleEndian) { bytes.append(contentsOf: $0) } }
            default:
                preconditionFailure("float entries are stored as F32, F16 or BF16, not \(dtype)")
            }
            self.init(name: name, dtype: dtype, shape: shape, data: bytes)
        }
    }

    public var metadata: [(key: String, value: String)] = []
    public private(set) var entries: [Entry] = []
    /// Record the content digest (`ContentDigest`) in the metadata, so readers can refuse a damaged copy.
    public var recordsContentDigest: Bool

    public init(metadata: [(key: String, value: String)] = [], recordsContentDigest: Bool = false) {
        self.metadata = metadata
        self.recordsContentDigest = recordsContentDigest
    }

    public mutating func add(_ entry: Entry) {
        entries.append(entry)
    }

    /// The complete file contents.
    public func serialize(path: String = "<memory>") throws(SafeTensorsError) -> [UInt8] {
        var names = Set<String>()
        for e in entries {
            guard e.name != "__metadata__" else { throw SafeTensorsError(path: path, tensor: e.name, problem: .reservedName) }
            guard names.insert(e.name).inserted else {
                throw SafeTensorsError(path: path, tensor: e.name, problem: .invalidEntry("duplicate tensor name"))
            }
            guard let width = e.dtype.byteWidth else {
                throw SafeTensorsError(path: path, tensor: e.name, problem: .subByteDType(e.dtype.rawValue))
            }
            var count = 1
            for d in e.shape {
                let (p, o) = count.multipliedReportingOverflow(by: d)
                guard !o, d >= 0 else { throw SafeTensorsError(path: path, tensor: e.name, problem: .sizeOverflow) }
                count = p
            }
            guard count * width == e.data.count else {
                throw SafeTensorsError(path: path, tensor: e.name, problem: .sizeMismatch(expected: count * width, actual: e.data.count))
            }
        }
        let order = entries.indices.sorted { a, b in
            let (x, y) = (entries[a], entries[b])
            if x.dtype != y.dtype { return x.dtype.writeRank > y.dtype.writeRank }
            return x.name.utf8.lexicographicallyPrecedes(y.name.utf8)  // byte order, as the reference
        }
        var metadata = self.metadata.filter { $0.key != ContentDigest.metadataKey }
        if recordsContentDigest {
            let digest = ContentDigest.compute(metadata: metadata, names: entries.map(\.name)) { i, hasher in
                let e = entries[i]
                e.data.withUnsafeBytes { ContentDigest.hash(name: e.name, dtype: e.dtype.rawValue, shape: e.shape, bytes: $0, into: hasher) }
            }
            metadata.append((ContentDigest.metadataKey, digest))
        }
        var members: [(key: String, value: JSONValue)] = []
        if !metadata.isEmpty {
            members.append(("__metadata__", .object(metadata.map { ($0.key, JSONValue.string($0.value)) })))
        }
        var offset = 0
        for i in order {
            let e = entries[i]
            members.append((e.name, .object([
                ("dtype", .string(e.dtype.rawValue)),
                ("shape", .array(e.shape.map { .integer(.nonNegative(UInt64($0))) })),
                ("data_offsets", .array([.integer(.nonNegative(UInt64(offset))), .integer(.nonNegative(UInt64(offset + e.data.count)))])),
            ])))
            offset += e.data.count
        }
        var header = Array(JSONValue.object(members).compactText.utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var out: [UInt8] = []
        out.reserveCapacity(8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: header)
        for i in order { out.append(contentsOf: entries[i].data) }
        return out
    }

    /// Serialises and writes atomically to `path`.
    public func write(to path: String) throws(SafeTensorsError) {
        let bytes = try serialize(path: path)
        do {
            try AtomicFile.write(bytes, to: path)
        } catch {
            throw SafeTensorsError(path: path, tensor: nil, problem: .io(error.reason))
        }
    }
}
