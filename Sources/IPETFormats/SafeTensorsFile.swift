/// A safetensors file (`Formats/safetensors.md`), memory-mapped and validated before any tensor is touched.
///
/// Layout: `u64 LE header length N`, `N` bytes of UTF-8 JSON, then the data buffer. Every rule of the reference
/// reader is enforced (§D.2), plus: duplicate keys are rejected (the reference's hash map silently keeps the
/// last), the header is at most 100 MB, every size product is overflow-checked, and the file length must be
/// exact. Nothing is allocated from a declared size: offsets must tile the real file before they are used.
public final class SafeTensorsFile: @unchecked Sendable {
    public let path: String
    /// `__metadata__` entries in header order.
    public let metadata: [(key: String, value: String)]
    /// Tensors in header order.
    public let tensors: [SafeTensorInfo]
    /// Absolute file offset of the data buffer (8 + N).
    public let dataStart: Int
    private let index: [String: Int]
    private let bytes: UnsafeRawBufferPointer
    private let owner: AnyObject?

    /// Largest header the reference accepts (decimal 100 MB).
    public static let maxHeaderLength = 100_000_000

    /// Maps and validates `path`.
    public convenience init(path: String) throws(SafeTensorsError) {
        let file: MappedFile
        do {
            file = try MappedFile(path: path)
        } catch {
            throw SafeTensorsError(path: path, tensor: nil, problem: .io(error.reason))
        }
        try self.init(bytes: file.bytes, path: path, owner: file)
    }

    /// Validates a buffer that `owner` keeps alive (or that outlives the returned value).
    public init(bytes: UnsafeRawBufferPointer, path: String, owner: AnyObject?) throws(SafeTensorsError) {
        let header = try SafeTensorsHeader.parse(bytes, path: path)
        self.path = path
        self.metadata = header.metadata
        self.tensors = header.tensors
        self.dataStart = header.dataStart
        self.bytes = bytes
        self.owner = owner
        var index: [String: Int] = [:]
        for (i, t) in header.tensors.enumerated() { index[t.name] = i }
        self.index = index
    }

    public var tensorNames: [String] { tensors.map(\.name) }

    public func info(_ name: String) -> SafeTensorInfo? {
        index[name].map { tensors[$0] }
    }

    public func metadataValue(_ key: String) -> String? {
        metadata.first(where: { $0.key == key })?.value
    }

    /// The tensor's bytes inside the mapping (little-endian, row-major, possibly unaligned).
    public func rawBytes(_ info: SafeTensorInfo) -> UnsafeRawBufferPointer {
        guard info.byteCount > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(rebasing: bytes[(dataStart + info.begin)..<(dataStart + info.end)])
    }

    /// The object that keeps the mapped bytes alive; views into `rawBytes` must retain it.
    public var storageOwner: AnyObject { owner ?? self }

    /// Copies the tensor's values converted to Float32 (F32, F16, BF16, F64).
    public func floats(_ name: String) throws(SafeTensorsError) -> [Float] {
        guard let info = info(name) else {
            throw SafeTensorsError(path: path, tensor: name, problem: .missingTensor)
        }
        guard info.dtype.isFloatConvertible else {
            throw SafeTensorsError(path: path, tensor: name, problem: .unsupportedDType(info.dtype.rawValue))
        }
        var out = [Float](repeating: 0, count: info.elementCount)
        out.withUnsafeMutableBufferPointer { convertToFloat(rawBytes(info), dtype: info.dtype, into: $0) }
        return out
    }

    /// Copies an integer tensor's values (I64, I32, I16, I8, U8, U64 within Int64, U32, U16, BOOL).
    public func integers(_ name: String) throws(SafeTensorsError) -> [Int64] {
        guard let info = info(name) else {
            throw SafeTensorsError(path: path, tensor: name, problem: .missingTensor)
        }
        let raw = rawBytes(info)
        let n = info.elementCount
        var out = [Int64](repeating: 0, count: n)
        for i in 0..<n {
            switch info.dtype {
            case .i64: out[i] = Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))
            case .u64: out[i] = Int64(truncatingIfNeeded: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))
            case .i32: out[i] = Int64(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
            case .u32: out[i] = Int64(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
            case .i16: out[i] = Int64(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)))
            case .u16: out[i] = Int64(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
            case .i8: out[i] = Int64(Int8(bitPattern: raw[i]))
            case .u8, .bool: out[i] = Int64(raw[i])
            default:
                throw SafeTensorsError(path: path, tensor: name, problem: .unsupportedDType(info.dtype.rawValue))
            }
        }
        return out
    }
}

/// One tensor entry of a validated header.
public struct SafeTensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    /// Offsets relative to the data buffer; `end` is exclusive.
    public let begin: Int
    public let end: Int
    public let elementCount: Int

    public var byteCount: Int { end - begin }
}

/// The parsed and validated header of a safetensors buffer.
public struct SafeTensorsHeader: Sendable {
    public let metadata: [(key: String, value: String)]
    public let tensors: [SafeTensorInfo]
    public let dataStart: Int

    /// Applies every validation rule to `bytes` (the whole file).
    public static func parse(_ bytes: UnsafeRawBufferPointer, path: String) throws(SafeTensorsError) -> SafeTensorsHeader {
        func error(_ problem: SafeTensorsError.Problem, _ tensor: String? = nil) -> SafeTensorsError {
            SafeTensorsError(path: path, tensor: tensor, problem: problem)
        }
        guard bytes.count >= 8 else { throw error(.headerTooSmall(fileLength: bytes.count)) }
        let declared = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        guard declared <= UInt64(SafeTensorsFile.maxHeaderLength) else { throw error(.headerTooLarge(declared: declared)) }
        let headerLength = Int(declared)
        guard headerLength <= bytes.count - 8 else {
            throw error(.headerPastEnd(declared: declared, fileLength: bytes.count))
        }
        let headerBytes = UnsafeRawBufferPointer(rebasing: bytes[8..<(8 + headerLength)])
        guard String(validating: headerBytes, as: UTF8.self) != nil else { throw error(.headerNotUTF8) }
        let root: JSONValue
        do {
            root = try JSONParser.parse(headerBytes)
        } catch {
            throw SafeTensorsError(path: path, tensor: nil, problem: .invalidJSON(error.description))
        }
        guard case let .object(members) = root else { throw error(.headerNotObject) }

        var metadata: [(key: String, value: String)] = []
        var tensors: [SafeTensorInfo] = []
        tensors.reserveCapacity(members.count)
        for (name, value) in members {
            if name == "__metadata__" {
                if value == .null { continue }  // the reference reads null as "no metadata"
                if value["dtype"] != nil, value["data_offsets"] != nil { throw error(.reservedName, name) }
                guard case let .object(entries) = value else {
                    throw error(.invalidMetadata("must be an object of strings"))
                }
                for (key, v) in entries {
                    guard case let .string(s) = v else {
                        throw error(.invalidMetadata("value of \"\(key)\" is not a string"))
                    }
                    metadata.append((key, s))
                }
                continue
            }
            tensors.append(try parseEntry(name: name, value: value, path: path))
        }

        // Offsets must tile [0, data length) exactly: sorted by (begin, end), each begin equals the previous end.
        let order = tensors.indices.sorted { (tensors[$0].begin, tensors[$0].end) < (tensors[$1].begin, tensors[$1].end) }
        var cursor = 0
        for i in order {
            let t = tensors[i]
            if t.begin != cursor {
                let what = t.begin > cursor ? "gap before byte \(t.begin) (expected \(cursor))" : "overlaps the previous tensor (begins at \(t.begin), expected \(cursor))"
                throw error(.invalidOffset(what), t.name)
            }
            cursor = t.end
        }
        let dataStart = 8 + headerLength
        let expectedLength = UInt64(dataStart) + UInt64(cursor)
        guard expectedLength == UInt64(bytes.count) else {
            throw error(.fileLengthMismatch(expected: expectedLength, actual: bytes.count))
        }
        return SafeTensorsHeader(metadata: metadata, tensors: tensors, dataStart: dataStart)
    }

    private static func parseEntry(name: String, value: JSONValue, path: String) throws(SafeTensorsError) -> SafeTensorInfo {
        func error(_ problem: SafeTensorsError.Problem) -> SafeTensorsError {
            SafeTensorsError(path: path, tensor: name, problem: problem)
        }
        guard case .object = value else { throw error(.invalidEntry("not an object")) }
        guard case let .string(dtypeText)? = value["dtype"] else { throw error(.invalidEntry("missing or non-string \"dtype\"")) }
        guard let dtype = DType(rawValue: dtypeText) else { throw error(.unknownDType(dtypeText)) }
        guard case let .array(dims)? = value["shape"] else { throw error(.invalidEntry("missing or non-array \"shape\"")) }
        guard case let .array(offsets)? = value["data_offsets"], offsets.count == 2 else {
            throw error(.invalidEntry("\"data_offsets\" must be an array of two integers"))
        }
        var shape: [Int] = []
        shape.reserveCapacity(dims.count)
        var elements: UInt64 = 1
        // Stricter: the non-zero dimensions' product must fit an Int too. An empty tensor such as [2^32, 2^31, 0]
        // has 0 elements, yet `shape.reduce(1, *)` (Tensor, every consumer) overflows on its first two dimensions.
        var nonZero = 1
        for d in dims {
            guard case let .integer(.nonNegative(v)) = d else {
                throw error(.invalidEntry("shape dimensions must be non-negative integers"))
            }
            let (product, overflow) = elements.multipliedReportingOverflow(by: v)
            guard !overflow else { throw error(.sizeOverflow) }
            elements = product
            guard let dim = Int(exactly: v) else { throw error(.sizeOverflow) }
            if dim > 0 {
                let (p, o) = nonZero.multipliedReportingOverflow(by: dim)
                guard !o else { throw error(.sizeOverflow) }
                nonZero = p
            }
            shape.append(dim)
        }
        guard case let .integer(.nonNegative(begin64)) = offsets[0], case let .integer(.nonNegative(end64)) = offsets[1] else {
            throw error(.invalidEntry("\"data_offsets\" must be non-negative integers"))
        }
        guard end64 >= begin64 else { throw error(.invalidOffset("end \(end64) is before begin \(begin64)")) }
        let (bits, bitsOverflow) = elements.multipliedReportingOverflow(by: UInt64(dtype.bits))
        guard !bitsOverflow else { throw error(.sizeOverflow) }
        guard dtype.bits % 8 == 0 else { throw error(.subByteDType(dtype.rawValue)) }
        let byteCount = bits / 8
        // Offsets larger than any real file cannot tile it; reject before converting to Int.
        guard let begin = Int(exactly: begin64), let end = Int(exactly: end64), begin <= Int(Int32.max) << 24,
            end <= Int(Int32.max) << 24, let count = Int(exactly: elements)
        else { throw error(.invalidOffset("offsets beyond any file size")) }
        guard UInt64(end - begin) == byteCount else {
            throw error(.sizeMismatch(expected: Int(clamping: byteCount), actual: end - begin))
        }
        return SafeTensorInfo(name: name, dtype: dtype, shape: shape, begin: begin, end: end, elementCount: count)
    }
}
