/// A PyTorch checkpoint in the zip format `torch.save` has written since 1.6, read without running any Python.
///
/// Layout: a zip archive whose top folder (`archive/`, or the file's stem in newer torch) holds `data.pkl`, the
/// pickled object, and `data/<key>`, one STORED record per storage. `data.pkl` is interpreted by
/// `PickleMachine`, which refuses every global outside a state dict's needs. The state dict is the root object
/// when it maps names to tensors, or else the dict with the most tensors one or two levels below it (under
/// `state_dict`, `model`, `module`, `net`, ...); a leading `module.` (from `DataParallel`) is stripped from
/// names. Every tensor is checked against its storage record when the checkpoint is opened.
///
/// Contiguous tensors are zero-copy ranges of the mapped file (`rawBytes`). Strided views (e.g. a transposed
/// weight saved as is) are allowed: `rawBytes` refuses them, and `contiguousBytes` / `floats` copy their
/// elements into row-major order.
///
/// The legacy layout (`torch.save` before 1.6, or `_use_new_zipfile_serialization=False`; `Formats/pytorch.md`) is
/// read by the same machine: five pickles back to back (magic number, protocol version 1001, system information,
/// the object, the list of storage keys), then each listed storage as an 8-byte little-endian element count and its
/// raw bytes. Every count is checked against its persistent id and the bytes that remain before it is used, and the
/// storages must end exactly at the end of the file. Bare pickles are refused with a clear message; they are still
/// read by the restricted machine first, so a malicious one is reported by the global it names.
public final class TorchCheckpoint: @unchecked Sendable {
    public let path: String
    /// The zip archive; nil for a legacy file.
    public let archive: ZipArchive?
    /// The archive's top folder with its slash, e.g. `archive/`; empty for a legacy file.
    public let recordPrefix: String
    /// Whether the file has the legacy (pre-1.6, not zip) layout.
    public var isLegacy: Bool { archive == nil }
    /// The whole unpickled object.
    public let root: PickleValue
    /// Keys from the root to the state dict (empty when the root is the state dict).
    public let stateDictPath: [String]
    /// Tensors of the state dict in pickle order, names with `module.` stripped.
    public let tensors: [TorchTensorInfo]
    /// Names of state-dict entries that are not tensors (e.g. `n_averaged`).
    public let otherEntries: [String]
    private let index: [String: Int]
    private let bytes: UnsafeRawBufferPointer
    private let owner: AnyObject?

    public struct Options: Sendable {
        /// Keys leading to the state dict; nil searches for it.
        public var stateDictPath: [String]?
        /// Strip a leading `module.` from tensor names.
        public var stripModulePrefix = true
        public var limits = PickleLimits.default

        public init(stateDictPath: [String]? = nil, stripModulePrefix: Bool = true) {
            self.stateDictPath = stateDictPath
            self.stripModulePrefix = stripModulePrefix
        }
    }

    /// Keys under which training scripts commonly nest the state dict, most likely first (tie-breaker only).
    public static let stateDictKeys = [
        "state_dict", "model_state_dict", "model", "module", "net", "network", "model_state", "weights", "params", "state",
    ]

    /// Maps and reads `path`.
    public convenience init(path: String, options: Options = Options()) throws(TorchCheckpointError) {
        let file: MappedFile
        do {
            file = try MappedFile(path: path)
        } catch {
            throw TorchCheckpointError(path: path, tensor: nil, problem: .io(error.reason))
        }
        try self.init(bytes: file.bytes, path: path, owner: file, options: options)
    }

    /// Reads a buffer that `owner` keeps alive (or that outlives the returned value).
    public init(bytes: UnsafeRawBufferPointer, path: String, owner: AnyObject?, options: Options = Options())
        throws(TorchCheckpointError)
    {
        func fail(_ problem: TorchCheckpointError.Problem, _ tensor: String? = nil) -> TorchCheckpointError {
            TorchCheckpointError(path: path, tensor: tensor, problem: problem)
        }
        let root: PickleValue
        let storages: StorageRecords
        var zip: ZipArchive?
        var prefix = ""
        if let magicEnd = TorchCheckpoint.legacyMagicEnd(bytes) {
            let legacy = try TorchCheckpoint.readLegacy(bytes, magicEnd: magicEnd, path: path, limits: options.limits)
            root = legacy.root
            storages = .legacy(legacy.ranges)
        } else {
            try TorchCheckpoint.refuseNonZip(bytes, path: path, limits: options.limits)
            let archive: ZipArchive
            do {
                archive = try ZipArchive(bytes: bytes, path: path, owner: owner)
            } catch {
                throw fail(.zip(error.problem, entry: error.entry))
            }

            // The pickle is `<top>/data.pkl`, one folder deep.
            let pickles = archive.names.filter { name in
                guard name.hasSuffix("/data.pkl") else { return false }
                let folder = name.dropLast("data.pkl".count)
                return folder.count > 1 && folder.dropLast().firstIndex(of: "/") == nil
            }
            guard let pickleName = pickles.first else { throw fail(.noDataPickle) }
            guard pickles.count == 1 else { throw fail(.ambiguousDataPickle(pickles)) }
            prefix = String(pickleName.dropLast("data.pkl".count))

            // Tensor bytes are read as little-endian; torch records the writer's byte order (absent: little).
            if let order = archive.entry(prefix + "byteorder") {
                let text: String
                do {
                    text = String(decoding: try archive.storedBytes(order).prefix(16), as: UTF8.self)
                } catch {
                    throw fail(.zip(error.problem, entry: error.entry))
                }
                guard text == "little", order.compressedSize == 6 else {
                    throw fail(text == "big" ? .bigEndian : .invalidRecord(order.name, printableUntrusted(text)))
                }
            }

            do {
                let pickle = try archive.storedBytes(named: pickleName)
                root = try PickleMachine.unpickle(pickle, limits: options.limits)
            } catch let error as ZipError {
                throw fail(.zip(error.problem, entry: error.entry))
            } catch let error as PickleError {
                throw fail(.pickle(error, record: pickleName))
            } catch {
                throw fail(.io("\(error)"))
            }
            zip = archive
            storages = .zip(archive, prefix: prefix)
        }

        let (dictPath, stateDict) = try TorchCheckpoint.locateStateDict(root, explicit: options.stateDictPath, path: path)

        var tensors: [TorchTensorInfo] = []
        var others: [String] = []
        var index: [String: Int] = [:]
        for entry in stateDict.entries {
            guard case let .string(original) = entry.key else { continue }
            guard case let .tensor(ref) = entry.value else {
                others.append(original)
                continue
            }
            var name = original
            if options.stripModulePrefix, name.hasPrefix("module."), name.count > "module.".count {
                name = String(name.dropFirst("module.".count))
            }
            if let previous = index[name] {
                throw fail(.duplicateName(tensors[previous].originalName), original)
            }
            let info = try TorchCheckpoint.validate(ref, name: name, original: original, storages: storages, path: path)
            index[name] = tensors.count
            tensors.append(info)
        }
        self.path = path
        self.archive = zip
        self.recordPrefix = prefix
        self.root = root
        self.stateDictPath = dictPath
        self.tensors = tensors
        self.otherEntries = others
        self.index = index
        self.bytes = bytes
        self.owner = owner
    }

    public var tensorNames: [String] { tensors.map(\.name) }

    public func info(_ name: String) -> TorchTensorInfo? {
        index[name].map { tensors[$0] }
    }

    /// The object that keeps the mapped bytes alive; views into `rawBytes` must retain it.
    public var storageOwner: AnyObject { archive?.storageOwner ?? owner ?? self }

    /// A contiguous tensor's bytes inside the mapping (little-endian, row-major, possibly unaligned).
    public func rawBytes(_ info: TorchTensorInfo) throws(TorchCheckpointError) -> UnsafeRawBufferPointer {
        guard let range = info.byteRange else {
            throw TorchCheckpointError(path: path, tensor: info.name, problem: .nonContiguous(shape: info.shape, strides: info.strides))
        }
        guard !range.isEmpty else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(rebasing: bytes[range])
    }

    /// The tensor's bytes in row-major order: a copy of the mapped range, or of a strided view's elements.
    public func contiguousBytes(_ info: TorchTensorInfo) -> [UInt8] {
        let width = info.dtype.byteWidth ?? 1
        var out = [UInt8](repeating: 0, count: info.byteCount)
        guard info.elementCount > 0 else { return out }
        out.withUnsafeMutableBytes { destination in
            if let range = info.byteRange {
                destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[range]))
                return
            }
            let storage = UnsafeRawBufferPointer(rebasing: bytes[info.storageRange])
            let rank = info.shape.count
            var counter = [Int](repeating: 0, count: rank)
            // In elements. Every index that is read was validated to lie inside the storage; the odometer may
            // step past the end after the last element (a size-1 dimension can have any stride), so it wraps
            // instead of trapping, which leaves every in-range index exact.
            var source = info.storageOffset
            for element in 0..<info.elementCount {
                destination.baseAddress!.advanced(by: element * width)
                    .copyMemory(from: storage.baseAddress!.advanced(by: source * width), byteCount: width)
                var d = rank - 1
                while d >= 0 {
                    counter[d] += 1
                    source = source &+ info.strides[d]
                    if counter[d] < info.shape[d] { break }
                    source = source &- info.strides[d] &* info.shape[d]
                    counter[d] = 0
                    d -= 1
                }
            }
        }
        return out
    }

    /// The tensor's values converted to Float32 (F32, F16, BF16, F64), row-major.
    public func floats(_ name: String) throws(TorchCheckpointError) -> [Float] {
        guard let info = info(name) else { throw TorchCheckpointError(path: path, tensor: name, problem: .missingTensor) }
        return try floats(info)
    }

    public func floats(_ info: TorchTensorInfo) throws(TorchCheckpointError) -> [Float] {
        guard info.dtype.isFloatConvertible else {
            throw TorchCheckpointError(path: path, tensor: info.name, problem: .unsupportedDType(info.dtype.rawValue))
        }
        var out = [Float](repeating: 0, count: info.elementCount)
        guard info.elementCount > 0 else { return out }
        if let range = info.byteRange {
            out.withUnsafeMutableBufferPointer { convertToFloat(UnsafeRawBufferPointer(rebasing: bytes[range]), dtype: info.dtype, into: $0) }
        } else {
            let packed = contiguousBytes(info)
            packed.withUnsafeBytes { raw in
                out.withUnsafeMutableBufferPointer { convertToFloat(raw, dtype: info.dtype, into: $0) }
            }
        }
        return out
    }

    // MARK: opening

    /// The pickle `torch.save` wrote before 1.6 begins with this magic number (LONG1, 10 bytes).
    static let legacyMagic: [UInt8] = [0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]

    /// Whether `bytes` start like a legacy (pre-1.6) `torch.save` file.
    public static func isLegacy(_ bytes: UnsafeRawBufferPointer) -> Bool { legacyMagicEnd(bytes) != nil }

    /// Where the legacy magic-number pickle ends, if `bytes` begin with it: an optional `PROTO n`, an optional
    /// `FRAME` (protocols 4 and 5), `LONG1` of the 10-byte magic number, `STOP`.
    static func legacyMagicEnd(_ bytes: UnsafeRawBufferPointer) -> Int? {
        var p = 0
        if bytes.count >= 2, bytes[0] == 0x80 {
            guard bytes[1] <= 5 else { return nil }
            p = 2
        }
        if bytes.count >= p + 9, bytes[p] == 0x95 { p += 9 }
        guard bytes.count >= p + legacyMagic.count + 1 else { return nil }
        for i in 0..<legacyMagic.count where bytes[p + i] != legacyMagic[i] { return nil }
        p += legacyMagic.count
        return bytes[p] == 0x2E ? p + 1 : nil
    }

    /// The legacy layout after its magic number: protocol version, system information, the object (whose
    /// persistent ids declare the storages), the storage keys, then each storage as a u64 little-endian element
    /// count and its bytes. Returns the object and each storage's byte range in the file. Nothing is allocated from
    /// a declared size: each count must equal its persistent id's and fit in the bytes that remain.
    static func readLegacy(_ bytes: UnsafeRawBufferPointer, magicEnd: Int, path: String, limits: PickleLimits)
        throws(TorchCheckpointError) -> (root: PickleValue, ranges: [String: Range<Int>])
    {
        func fail(_ why: String) -> TorchCheckpointError {
            TorchCheckpointError(path: path, tensor: nil, problem: .legacyLayout(why))
        }
        func pickle(_ what: String, at offset: Int, legacy: Bool = false) throws(TorchCheckpointError)
            -> (value: PickleValue, end: Int, storages: [TorchStorageRef])
        {
            do {
                return try PickleMachine.unpickle(bytes, from: offset, limits: limits, legacyStorageIDs: legacy)
            } catch {
                throw TorchCheckpointError(path: path, tensor: nil, problem: .pickle(error, record: "\(what) pickle at byte \(offset)"))
            }
        }
        let version = try pickle("protocol-version", at: magicEnd)
        guard version.value == .int(1001) else { throw fail("protocol version \(version.value.int.map(String.init) ?? version.value.kindName) is not 1001") }
        let system = try pickle("system-information", at: version.end)
        guard system.value.dict != nil else { throw fail("the system-information pickle holds a \(system.value.kindName), not a dict") }
        switch system.value["little_endian"] {
        case .bool(true)?: break
        case .bool(false)?: throw TorchCheckpointError(path: path, tensor: nil, problem: .bigEndian)
        default: throw fail("the system information does not say little_endian")
        }
        let object = try pickle("object", at: system.end, legacy: true)
        let keys = try pickle("storage-key", at: object.end)
        guard case let .list(listed) = keys.value else { throw fail("the storage-key pickle holds a \(keys.value.kindName), not a list") }
        let declared = Dictionary(object.storages.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        var ranges: [String: Range<Int>] = [:]
        var offset = keys.end
        for value in listed {
            guard case let .string(key) = value else { throw fail("the storage-key list holds a \(value.kindName)") }
            let shown = printableUntrusted(key)
            guard let ref = declared[key] else { throw fail("storage \(shown) is listed but no persistent id declares it") }
            guard ranges[key] == nil else { throw fail("storage \(shown) is listed twice") }
            guard bytes.count - offset >= 8 else {
                throw fail("storage \(shown): its element count at byte \(offset) runs past the end of the \(bytes.count)-byte file (truncated?)")
            }
            let count = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            guard ref.count >= 0, count == UInt64(ref.count) else {
                throw fail("storage \(shown) holds \(count) elements at byte \(offset) but its persistent id declares \(ref.count)")
            }
            let size = ref.byteCount  // overflow-checked when the persistent id was read
            guard size <= bytes.count - offset - 8 else {
                throw fail("storage \(shown): \(size) bytes from byte \(offset + 8) run past the end of the \(bytes.count)-byte file (truncated?)")
            }
            ranges[key] = (offset + 8)..<(offset + 8 + size)
            offset += 8 + size
        }
        guard offset == bytes.count else {
            let extra = bytes.count - offset
            throw fail("\(extra) byte\(extra == 1 ? "" : "s") follow\(extra == 1 ? "s" : "") the last storage")
        }
        return (object.value, ranges)
    }

    /// Files that do not start like a zip archive: legacy torch.save output, or a bare pickle (read by the
    /// restricted machine, so a malicious one names its global), or anything else.
    static func refuseNonZip(_ bytes: UnsafeRawBufferPointer, path: String, limits: PickleLimits) throws(TorchCheckpointError) {
        if bytes.count >= 4, bytes[0] == 0x50, bytes[1] == 0x4B, (bytes[2] == 3 && bytes[3] == 4) || (bytes[2] == 5 && bytes[3] == 6) {
            return
        }
        func fail(_ problem: TorchCheckpointError.Problem) -> TorchCheckpointError {
            TorchCheckpointError(path: path, tensor: nil, problem: problem)
        }
        let head = bytes.prefix(64)
        if head.count >= legacyMagic.count {
            for start in 0...(head.count - legacyMagic.count)
            where (0..<legacyMagic.count).allSatisfy({ head[start + $0] == legacyMagic[$0] }) {
                throw fail(.legacyLayout("its magic number is not the first pickle"))
            }
        }
        guard !bytes.isEmpty else { throw fail(.notAnArchive(nil)) }
        do {
            _ = try PickleMachine.unpickle(bytes, limits: limits)
        } catch {
            throw fail(.notAnArchive(error))
        }
        throw fail(.barePickle)
    }

    /// The state dict: `explicit` keys if given; else the dict (the root, its children, or theirs) with the
    /// most string-named tensors, preferring shallower ones, then the usual key names, then pickle order.
    static func locateStateDict(_ root: PickleValue, explicit: [String]?, path: String) throws(TorchCheckpointError)
        -> ([String], PickleDict)
    {
        if let explicit {
            var value = root
            for (i, key) in explicit.enumerated() {
                guard let next = value[key] else {
                    throw TorchCheckpointError(path: path, tensor: nil, problem: .stateDictPathNotFound(Array(explicit[...i])))
                }
                value = next
            }
            guard let dict = value.dict else {
                throw TorchCheckpointError(path: path, tensor: nil, problem: .noStateDict("\(explicit.joined(separator: ".")) is a \(value.kindName)"))
            }
            return (explicit, dict)
        }
        struct Candidate {
            var path: [String]
            var dict: PickleDict
            var score: Int
            var rank: Int
            var order: Int
        }
        var candidates: [Candidate] = []
        func visit(_ dict: PickleDict, _ keys: [String], _ levelsLeft: Int) {
            let score = dict.entries.reduce(0) { n, e in
                if case .string = e.key, case .tensor = e.value { return n + 1 }
                return n
            }
            let rank = keys.last.flatMap { stateDictKeys.firstIndex(of: $0) } ?? stateDictKeys.count
            candidates.append(Candidate(path: keys, dict: dict, score: score, rank: rank, order: candidates.count))
            guard levelsLeft > 0 else { return }
            for e in dict.entries {
                if case let .string(k) = e.key, case let .dict(child) = e.value { visit(child, keys + [k], levelsLeft - 1) }
            }
        }
        guard case let .dict(top) = root else {
            throw TorchCheckpointError(path: path, tensor: nil, problem: .noStateDict("the checkpoint holds a \(root.kindName), not a dict"))
        }
        visit(top, [], 2)
        let best = candidates.min { a, b in
            if a.score != b.score { return a.score > b.score }
            if a.path.count != b.path.count { return a.path.count < b.path.count }
            if a.rank != b.rank { return a.rank < b.rank }
            return a.order < b.order
        }
        guard let best, best.score > 0 else {
            let keys = top.stringKeys.prefix(12).map { "\"\(printableUntrusted($0))\"" }.joined(separator: ", ")
            throw TorchCheckpointError(path: path, tensor: nil,
                                       problem: .noStateDict("no dict of named tensors at the top or two levels down (top-level keys: \(keys))"))
        }
        return (best.path, best.dict)
    }

    /// Where a checkpoint's storages are: zip records `<prefix>data/<key>`, or byte ranges of a legacy file.
    enum StorageRecords {
        case zip(ZipArchive, prefix: String)
        case legacy([String: Range<Int>])
    }

    /// Checks a tensor against its storage record and computes its byte ranges.
    static func validate(_ ref: TorchTensorRef, name: String, original: String, storages: StorageRecords, path: String)
        throws(TorchCheckpointError) -> TorchTensorInfo
    {
        func fail(_ problem: TorchCheckpointError.Problem) -> TorchCheckpointError {
            TorchCheckpointError(path: path, tensor: original, problem: problem)
        }
        // The machine checked the view against the declared storage size and that size for overflow.
        let declared = ref.storage.byteCount
        let storageRange: Range<Int>
        switch storages {
        case let .zip(archive, prefix):
            let recordName = prefix + "data/" + ref.storage.key
            guard let record = archive.entry(recordName) else { throw fail(.missingStorage(recordName)) }
            guard record.isStored else { throw fail(.zip(.compressed(method: record.method), entry: recordName)) }
            guard ref.dtype.byteWidth != nil else { throw fail(.unsupportedDType(ref.dtype.rawValue)) }
            guard record.compressedSize == declared else {
                throw fail(.storageSizeMismatch(record: recordName, declared: declared, actual: record.compressedSize))
            }
            storageRange = record.dataRange
        case let .legacy(ranges):
            let recordName = "storage " + ref.storage.key
            guard let range = ranges[ref.storage.key] else {
                throw fail(.legacyLayout("its storage \(printableUntrusted(ref.storage.key)) is not in the storage-key list, so the file holds no bytes for it"))
            }
            guard ref.dtype.byteWidth != nil else { throw fail(.unsupportedDType(ref.dtype.rawValue)) }
            guard range.count == declared else {
                throw fail(.storageSizeMismatch(record: recordName, declared: declared, actual: range.count))
            }
            storageRange = range
        }
        guard let width = ref.dtype.byteWidth else { throw fail(.unsupportedDType(ref.dtype.rawValue)) }
        let elements = ref.elementCount
        // A broadcast view (stride 0) holds more elements than its storage; materialising it allocates what the pickle
        // declares, so only small ones are read (16 M elements: far beyond any real checkpoint's expanded buffers).
        guard elements <= declared / width || elements <= 1 << 24 else {
            throw fail(.broadcastView(elements: elements, storageElements: declared / width))
        }
        var byteRange: Range<Int>?
        if ref.isContiguous {
            let start = storageRange.lowerBound + ref.storageOffset * width
            byteRange = elements == 0 ? storageRange.lowerBound..<storageRange.lowerBound : start..<(start + elements * width)
        }
        return TorchTensorInfo(
            name: name, originalName: original, dtype: ref.dtype, shape: ref.shape, strides: ref.strides,
            storageOffset: ref.storageOffset, storageKey: ref.storage.key, elementCount: elements,
            isContiguous: ref.isContiguous, requiresGrad: ref.requiresGrad, isParameter: ref.isParameter,
            storageRange: storageRange, byteRange: byteRange)
    }
}

/// One tensor of a checkpoint's state dict, validated against its storage record.
public struct TorchTensorInfo: Sendable, Equatable {
    /// Name with a leading `module.` stripped.
    public let name: String
    /// Name as stored in the checkpoint.
    public let originalName: String
    public let dtype: DType
    public let shape: [Int]
    /// Strides in elements.
    public let strides: [Int]
    /// Offset into the storage, in elements.
    public let storageOffset: Int
    /// The storage record is `<prefix>data/<storageKey>`.
    public let storageKey: String
    public let elementCount: Int
    public let isContiguous: Bool
    public let requiresGrad: Bool
    public let isParameter: Bool
    /// Absolute byte range of the whole storage record in the file.
    public let storageRange: Range<Int>
    /// Absolute byte range of the tensor's elements when contiguous; nil for a strided view.
    public let byteRange: Range<Int>?

    public var byteCount: Int { elementCount * (dtype.byteWidth ?? 1) }
}
