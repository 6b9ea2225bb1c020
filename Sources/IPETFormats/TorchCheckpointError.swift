

/// What is wrong with a PyTorch checkpoint, and where.
public struct TorchCheckpointError: LocatedError, Sendable, Equatable {
    public let path: String
    /// The tensor's name as stored, when the problem concerns one tensor.
    public let tensor: String?
    public let problem: Problem

    public enum Problem: Equatable, Sendable {
        case io(String)
        case zip(ZipError.Problem, entry: String?)
        /// The pickle was refused: a forbidden global or opcode, or malformed data.
        case pickle(PickleError, record: String)
        /// A legacy (pre-1.6, not zip) `torch.save` file whose layout is not what torch writes.
        case legacyLayout(String)
        /// Not a zip archive; when it reads as a pickle at all, why that pickle was refused.
        case notAnArchive(PickleError?)
        case barePickle
        case noDataPickle
        case ambiguousDataPickle([String])
        case bigEndian
        case invalidRecord(String, String)
        case noStateDict(String)
        case stateDictPathNotFound([String])
        case missingStorage(String)
        case storageSizeMismatch(record: String, declared: Int, actual: Int)
        case duplicateName(String)
        case nonContiguous(shape: [Int], strides: [Int])
        /// A view with far more elements than its storage holds (stride 0, as `expand()` makes): materialising it
        /// would allocate what the pickle declares, not what the file holds.
        case broadcastView(elements: Int, storageElements: Int)
        case missingTensor
        case unsupportedDType(String)
    }

    public init(path: String, tensor: String?, problem: Problem) {
        self.path = path
        self.tensor = tensor
        self.problem = problem
    }

    public var file: String? { path }

    public var detail: String {
        let subject = tensor.map { "tensor \"\(printableUntrusted($0))\": " } ?? ""
        return subject + problemText
    }

    public var problemText: String {
        switch problem {
        case let .io(reason): return reason
        case let .zip(problem, entry): return ZipError(path: path, entry: entry, problem: problem).detail
        case let .pickle(error, record): return "\(printableUntrusted(record)): \(error.description)"
        case let .legacyLayout(why):
            return "legacy torch.save format (before PyTorch 1.6): \(why); re-save it with a current torch "
                + "(torch.save(torch.load(f), f2))"
        case let .notAnArchive(error):
            let detail = error.map { "; read as a bare pickle it is refused: \($0.description)" } ?? " (empty file)"
            return "not a torch.save zip archive\(detail)"
        case .barePickle:
            return "a bare pickle, not a torch.save zip archive (it holds no tensor storages)"
        case .noDataPickle: return "the zip archive has no <folder>/data.pkl, so it is not a torch.save checkpoint"
        case let .ambiguousDataPickle(names):
            return "the zip archive holds several checkpoints (\(names.map { printableUntrusted($0) }.joined(separator: ", ")))"
        case .bigEndian: return "checkpoint was saved on a big-endian machine; re-save it on a little-endian one"
        case let .invalidRecord(name, text): return "record \(printableUntrusted(name)) holds unexpected text \"\(text)\""
        case let .noStateDict(why): return "no state dict found: \(why)"
        case let .stateDictPathNotFound(keys): return "no state dict at \(keys.map { printableUntrusted($0) }.joined(separator: "."))"
        case let .missingStorage(record): return "storage record \(printableUntrusted(record)) is missing from the archive"
        case let .storageSizeMismatch(record, declared, actual):
            return "storage record \(printableUntrusted(record)) is \(actual) bytes but the pickle declares \(declared)"
        case let .duplicateName(other):
            return "two tensors have the same name once \"module.\" is stripped (the other is \"\(printableUntrusted(other))\")"
        case let .broadcastView(elements, storageElements):
            return "tensor is a broadcast view (stride 0) of \(elements) elements over a storage of \(storageElements); "
                + "re-save it with .contiguous() or .clone()"
        case let .nonContiguous(shape, strides):
            return "tensor is a strided view (size \(shape), stride \(strides)) and has no contiguous byte range; use contiguousBytes or floats"
        case .missingTensor: return "no such tensor"
        case let .unsupportedDType(d): return "dtype \(d) cannot be read as this kind of value"
        }
    }
}
