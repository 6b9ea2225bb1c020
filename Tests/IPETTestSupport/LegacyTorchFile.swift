import IPETFormats

/// Writes the legacy `torch.save` layout (PyTorch before 1.6, or `_use_new_zipfile_serialization=False`) byte by
/// byte, as `torch.serialization._legacy_save` lays it out (`Formats/pytorch.md`): five protocol-2 pickles (magic
/// number, protocol version 1001, system information, the state dict whose persistent ids name the storages, the
/// storage keys), then each storage as a u64 little-endian element count and its bytes. One storage per tensor,
/// keyed "0", "1", … The fields after `tensors` exist to make malformed variants.
public struct LegacyTorchFile {
    public struct Tensor {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        /// Little-endian element bytes, row-major.
        public let data: [UInt8]

        public init(name: String, dtype: DType, shape: [Int], data: [UInt8]) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.data = data
        }

        public init(name: String, shape: [Int], floats: [Float]) {
            self.init(name: name, dtype: .f32, shape: shape,
                      data: floats.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) })
        }
    }

    public var tensors: [Tensor]
    public var protocolVersion = 1001
    public var littleEndian = true
    /// The sixth element of each storage's persistent id: None, or a storage view `(key, offset, size)`.
    public var viewMetadata = false
    /// The storage-key list; nil lists every storage once, in order.
    public var listedKeys: [String]?
    /// Added to every element count written before a storage's bytes.
    public var countDelta: UInt64 = 0

    public init(tensors: [Tensor]) { self.tensors = tensors }

    static let magic: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]

    static func storageType(_ dtype: DType) -> String {
        switch dtype {
        case .f32: return "FloatStorage"
        case .f64: return "DoubleStorage"
        case .f16: return "HalfStorage"
        case .bf16: return "BFloat16Storage"
        case .i64: return "LongStorage"
        case .i32: return "IntStorage"
        case .i16: return "ShortStorage"
        case .i8: return "CharStorage"
        case .u8: return "ByteStorage"
        case .bool: return "BoolStorage"
        default: return "FloatStorage"
        }
    }

    private static func unicode(_ s: String) -> [UInt8] {
        let utf8 = Array(s.utf8)
        return [0x58] + (0..<4).map { UInt8(truncatingIfNeeded: utf8.count >> (8 * $0)) } + utf8  // BINUNICODE
    }

    private static func int(_ v: Int) -> [UInt8] { [0x8A, 8] + (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }  // LONG1
    private static func global(_ module: String, _ name: String) -> [UInt8] { [0x63] + Array("\(module)\n\(name)\n".utf8) }

    public var bytes: [UInt8] {
        var out: [UInt8] = [0x80, 2, 0x8A, 0x0A] + Self.magic + [0x2E]
        out += [0x80, 2] + Self.int(protocolVersion) + [0x2E]
        out += [0x80, 2, 0x7D, 0x28] + Self.unicode("protocol_version") + Self.int(1001)
        out += Self.unicode("little_endian") + [littleEndian ? 0x88 : 0x89]
        out += Self.unicode("type_sizes") + [0x7D, 0x28] + Self.unicode("short") + Self.int(2) + Self.unicode("int") + Self.int(4)
        out += Self.unicode("long") + Self.int(4) + [0x75, 0x75, 0x2E]
        // The state dict: {name: _rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())}.
        out += [0x80, 2, 0x7D, 0x28]
        for (i, t) in tensors.enumerated() {
            let width = t.dtype.byteWidth ?? 1
            var strides = [Int](repeating: 1, count: t.shape.count)
            for d in stride(from: t.shape.count - 2, through: 0, by: -1) { strides[d] = strides[d + 1] * t.shape[d + 1] }
            out += Self.unicode(t.name) + Self.global("torch._utils", "_rebuild_tensor_v2") + [0x28]
            out += [0x28] + Self.unicode("storage") + Self.global("torch", Self.storageType(t.dtype)) + Self.unicode("\(i)")
            out += Self.unicode("cpu") + Self.int(t.data.count / width)
            out += viewMetadata ? [0x28] + Self.unicode("\(i)") + Self.int(0) + Self.int(t.data.count) + [0x74] : [0x4E]
            out += [0x74, 0x51]  // TUPLE, BINPERSID
            out += Self.int(0) + [0x28] + t.shape.flatMap(Self.int) + [0x74] + [0x28] + strides.flatMap(Self.int) + [0x74]
            out += [0x89] + Self.global("collections", "OrderedDict") + [0x29, 0x52, 0x74, 0x52]
        }
        out += [0x75, 0x2E]
        let keys = listedKeys ?? tensors.indices.map { "\($0)" }
        out += [0x80, 2, 0x5D, 0x28] + keys.flatMap(Self.unicode) + [0x65, 0x2E]
        for key in keys {
            guard let i = Int(key), tensors.indices.contains(i) else { continue }
            let t = tensors[i]
            let count = UInt64(t.data.count / (t.dtype.byteWidth ?? 1)) &+ countDelta
            out += withUnsafeBytes(of: count.littleEndian, Array.init) + t.data
        }
        return out
    }
}
