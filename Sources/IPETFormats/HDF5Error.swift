import CHDF5
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What is wrong with an HDF5 file (a TF/Keras checkpoint, one of its shards, or a tensor container), and where.
public struct HDF5Error: LocatedError, Sendable, Equatable {
    /// The file (or shard index) being read or written.
    public let path: String
    /// The HDF5 object path, attribute, or weight name concerned, if any.
    public let object: String?
    public let problem: Problem

    public enum Problem: Equatable, Sendable {
        case io(String)
        case notHDF5
        /// A libhdf5 call failed; `detail` is the library's most specific message.
        case library(operation: String, detail: String)
        case noSuchObject
        case notADataset(String)
        case notAGroup(String)
        case externalLink
        case unsupportedLink(String)
        case externalStorage
        case virtualDataset
        case unsupportedElementType(String)
        case unsupportedAttributeType(String)
        case missingAttribute(String)
        case tooLarge(declaredBytes: UInt64, limit: UInt64)
        case sizeOverflow(String)
        case dataNotStored(declaredBytes: UInt64, storedBytes: UInt64)
        case pastEndOfFile(end: UInt64, fileSize: UInt64)
        case implausibleCompression(declaredBytes: UInt64, storedBytes: UInt64)
        case chunkTooLarge(bytes: UInt64, limit: UInt64)
        case notKerasWeights(String)
        case invalidShape(String)
        case duplicateName(String)
        case invalidName(String)
        case invalidIndex(String)
        case missingWeight(String)
        case invalidValue(String)
        /// A structure libhdf5 would mishandle (see `HDF5Integrity`), refused before libhdf5 reads it.
        case corruptMetadata(String)
        /// A group reached a second time while walking (a link back to an ancestor, or one group under two names).
        case groupReachedTwice(first: String)
        /// Groups nested deeper than `HDF5File.maxDepth`.
        case tooDeep(limit: Int)
        /// The datasets' float32 values would exceed `DecodeBudget` for the file's size.
        case decodeBudget(declaredBytes: UInt64, fileBytes: UInt64, limit: UInt64)
    }

    public init(path: String, object: String?, problem: Problem) {
        self.path = path
        self.object = object
        self.problem = problem
    }

    public var file: String? { path }

    public var detail: String {
        let subject = object.map { "\"\(printableUntrusted($0))\": " } ?? ""
        return subject + problemText
    }

    public var problemText: String {
        switch problem {
        case let .io(reason): return reason
        case .notHDF5: return "not an HDF5 file (no HDF5 signature)"
        case let .library(operation, detail): return "libhdf5 failed to \(operation): \(detail)"
        case .noSuchObject: return "no such object in the file"
        case let .notADataset(kind): return "is a \(kind), not a dataset"
        case let .notAGroup(kind): return "is a \(kind), not a group"
        case .externalLink: return "is an external link into another file; refused (a checkpoint must be self-contained)"
        case let .unsupportedLink(kind): return "is a \(kind) link; refused"
        case .externalStorage:
            return "dataset keeps its raw data in external files; refused (a checkpoint must be self-contained)"
        case .virtualDataset:
            return "is a virtual dataset (data mapped from other datasets or files); refused"
        case let .unsupportedElementType(kind):
            return "elements are \(kind); weights must be floating point (float16, bfloat16, float32 or float64)"
        case let .unsupportedAttributeType(kind): return "attribute is \(kind), expected strings"
        case let .missingAttribute(name): return "has no \"\(name)\" attribute"
        case let .tooLarge(declared, limit):
            return "declares \(declared) bytes of float32 data, more than the \(limit)-byte limit for one tensor"
        case let .sizeOverflow(what): return "declared size overflows: \(what)"
        case let .dataNotStored(declared, stored):
            return "declares \(declared) bytes but stores only \(stored) (data never written, or chunks missing)"
        case let .pastEndOfFile(end, size):
            return "data runs to byte \(end), past the end of the \(size)-byte file (truncated?)"
        case let .implausibleCompression(declared, stored):
            return "declares \(declared) bytes from \(stored) compressed bytes, beyond any real compression ratio"
        case let .chunkTooLarge(bytes, limit):
            return "chunk of \(bytes) bytes exceeds \(limit) (reading would allocate it whole)"
        case let .notKerasWeights(why): return "not a Keras weights file: \(why)"
        case let .invalidShape(why): return "invalid shape: \(why)"
        case let .duplicateName(why): return "duplicate weight: \(why)"
        case let .invalidName(why): return "invalid name: \(why)"
        case let .invalidIndex(why): return "invalid shard index: \(why)"
        case let .missingWeight(why): return "missing weight: \(why)"
        case let .invalidValue(why): return why
        case let .corruptMetadata(why): return "corrupt HDF5 metadata, refused: \(why)"
        case let .groupReachedTwice(first):
            return "is the group already reached as \"\(printableUntrusted(first))\" (a link cycle, or one group under two names); refused"
        case let .tooDeep(limit): return "groups nest deeper than \(limit) levels; refused"
        case let .decodeBudget(declared, fileBytes, limit):
            return "its datasets would decode to \(declared) bytes of float32 from \(fileBytes) bytes on disk, more than the "
                + "\(limit)-byte bound (8 × the file size + 256 MB; compression bomb?); refused before decompressing anything"
        }
    }
}
