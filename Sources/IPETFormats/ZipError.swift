

/// What is wrong with a zip archive, and where.
public struct ZipError: LocatedError, Sendable, Equatable {
    public let path: String
    public let entry: String?
    public let problem: Problem

    public enum Problem: Equatable, Sendable {
        case io(String)
        case tooSmall(fileLength: Int)
        case noEndOfCentralDirectory
        case multiDisk
        case invalidZip64(String)
        case invalidCentralDirectory(String)
        case invalidEntry(String)
        case outOfBounds(String)
        case duplicateName
        case overlapping(other: String)
        case encrypted
        case compressed(method: UInt16)
        case missingEntry
    }

    public init(path: String, entry: String?, problem: Problem) {
        self.path = path
        self.entry = entry
        self.problem = problem
    }

    public var file: String? { path }

    /// The message without the path: the entry, if any, and the problem.
    public var detail: String {
        let subject = entry.map { "zip entry \"\(printableUntrusted($0))\": " } ?? ""
        return subject + problemText
    }

    public var problemText: String {
        switch problem {
        case let .io(reason): return reason
        case let .tooSmall(n): return "file is \(n) bytes, too small for a zip archive (needs at least 22)"
        case .noEndOfCentralDirectory:
            return "not a zip archive: no end-of-central-directory record (the file is truncated or not a torch.save checkpoint)"
        case .multiDisk: return "multi-disk (split) zip archives are not supported"
        case let .invalidZip64(why): return "invalid ZIP64 end-of-central-directory: \(why)"
        case let .invalidCentralDirectory(why): return "invalid central directory: \(why)"
        case let .invalidEntry(why): return "invalid entry: \(why)"
        case let .outOfBounds(why): return "out of bounds: \(why)"
        case .duplicateName: return "name appears twice in the central directory"
        case let .overlapping(other): return "overlaps entry \"\(printableUntrusted(other))\""
        case .encrypted: return "encrypted entries are not supported"
        case let .compressed(method):
            return "entry is compressed (method \(method)); only stored entries can be read (torch.save never compresses; re-save with torch.save)"
        case .missingEntry: return "no such entry in the archive"
        }
    }
}
