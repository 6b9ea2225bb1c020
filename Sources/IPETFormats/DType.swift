/// Element types of the safetensors format, with their exact header spellings.
///
/// The order of cases follows the reference `Dtype` enum (safetensors `tensor.rs`); its writer sorts tensors
/// by descending alignment, which `alignment` reproduces.
public enum DType: String, CaseIterable, Sendable {
    case bool = "BOOL"
    case f4 = "F4"
    case f6e2m3 = "F6_E2M3"
    case f6e3m2 = "F6_E3M2"
    case u8 = "U8"
    case i8 = "I8"
    case f8e5m2 = "F8_E5M2"
    case f8e4m3 = "F8_E4M3"
    case f8e8m0 = "F8_E8M0"
    case f8e4m3fnuz = "F8_E4M3FNUZ"
    case f8e5m2fnuz = "F8_E5M2FNUZ"
    case i16 = "I16"
    case u16 = "U16"
    case f16 = "F16"
    case bf16 = "BF16"
    case i32 = "I32"
    case u32 = "U32"
    case f32 = "F32"
    case c64 = "C64"
    case f64 = "F64"
    case i64 = "I64"
    case u64 = "U64"

    /// Position in the reference enum; its writer orders tensors by this, descending, then by name.
    var writeRank: Int { DType.allCases.firstIndex(of: self)! }

    /// Size of one element in bits.
    public var bits: Int {
        switch self {
        case .f4: return 4
        case .f6e2m3, .f6e3m2: return 6
        case .bool, .u8, .i8, .f8e5m2, .f8e4m3, .f8e8m0, .f8e4m3fnuz, .f8e5m2fnuz: return 8
        case .i16, .u16, .f16, .bf16: return 16
        case .i32, .u32, .f32: return 32
        case .c64, .f64, .i64, .u64: return 64
        }
    }

    /// Bytes per element, or nil for sub-byte types (which this project does not read).
    public var byteWidth: Int? { bits % 8 == 0 ? bits / 8 : nil }

    /// Whether values of this type convert to Float32 for computation.
    public var isFloatConvertible: Bool {
        switch self {
        case .f16, .bf16, .f32, .f64: return true
        default: return false
        }
    }
}

/// Converts little-endian F32/F16/BF16/F64 bytes to Float32. `out.count` must equal the element count.
public func convertToFloat(_ raw: UnsafeRawBufferPointer, dtype: DType, into out: UnsafeMutableBufferPointer<Float>) {
    let n = out.count
    switch dtype {
    case .f32:
        for i in 0..<n { out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
    case .f16:
        for i in 0..<n { out[i] = HalfFloat.float(fromHalfBits: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
    case .bf16:
        for i in 0..<n { out[i] = HalfFloat.float(fromBFloat16Bits: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
    case .f64:
        for i in 0..<n { out[i] = Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))) }
    default:
        preconditionFailure("convertToFloat called with \(dtype)")
    }
}
