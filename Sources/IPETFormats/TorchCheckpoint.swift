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
/// Legacy (pre-1.6) files and bare pickles are recognised and refused with a clear message; a bare pickle is
/// still read by the restricted machine first, so a malicious one is reported by the global it names.
public final class TorchCheckpoint: @unchecked Sendable {
    public let path: String
    public let archive: ZipArchive
    /// The archive's top folder with its slash, e.g. `archive/`.
    public let recordPrefix: String
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
        let prefix = String(pickleName.dropLast("data.pkl".count))

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

        let root: PickleValue
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
            let info = try TorchCheckpoint.validate(ref, name: name, original: original, archive: archive, prefix: prefix, path: path)
            index[name] = tensors.count
            tensors.append(info)
        }
        self.path = path
        self.archive = archive
        self.recordPrefix = prefix
        self.root = root
        self.stateDictPath = dictPath
        self.tensors = tensors
        self.otherEntries = others
        self.index = index
        self.bytes = bytes
    }

    public var tensorNames: [String] { tensors.map(\.name) }

    public func info(_ name: String) -> TorchTensorInfo? {
        index[name].map { tensors[$0] }
    }

    /// The object that keeps the mapped bytes alive; views into `rawBytes` must retain it.
    public var storageOwner: AnyObject { archive.storageOwner }

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
                throw fail(.legacyFormat)
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

    /// Checks a tensor against its storage record and computes its byte ranges.
    static func validate(_ ref: TorchTensorRef, name: String, original: String, archive: ZipArchive, prefix: String, path: String)
        throws(TorchCheckpointError) -> TorchTensorInfo
    {
        func fail(_ problem: TorchCheckpointError.Problem) -> TorchCheckpointError {
            TorchCheckpointError(path: path, tensor: original, problem: problem)
        }
        let recordName = prefix + "data/" + ref.storage.key
        guard let record = archive.entry(recordName) else { throw fail(.missingStorage(recordName)) }
        guard record.isStored else { throw fail(.zip(.compressed(method: record.method), entry: recordName)) }
        guard let width = ref.dtype.byteWidth else { throw fail(.unsupportedDType(ref.dtype.rawValue)) }
        // The machine checked the view against the declared storage size and that size for overflow.
        let declared = ref.storage.byteCount
        guard record.compressedSize == declared else {
            throw fail(.storageSizeMismatch(record: recordName, declared: declared, actual: record.compressedSize))
        }
        let elements = ref.elementCount
        // A broadcast view (stride 0) holds more elements than its storage; materialising it allocates what the pickle
        // declares, so only small ones are read (16 M elements: far beyond any real checkpoint's expanded buffers).
        guard elements <= declared / width || elements <= 1 << 24 else {
            throw fail(.broadcastView(elements: elements, storageElements: declared / width))
        }
        let storageRange = record.dataRange
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
