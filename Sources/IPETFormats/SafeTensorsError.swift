

/// What is wrong with a safetensors file, and where.
public struct SafeTensorsError: LocatedError, Sendable, Equatable {
    public let path: String
    public let tensor: String?
    public let problem: Problem

    public enum Problem: Equatable, Sendable {
        case io(String)
        case headerTooSmall(fileLength: Int)
        case headerTooLarge(declared: UInt64)
        case headerPastEnd(declared: UInt64, fileLength: Int)
        case headerNotUTF8
        case invalidJSON(String)
        case headerNotObject
        case invalidEntry(String)
        case invalidMetadata(String)
        case unknownDType(String)
        case unsupportedDType(String)
        case sizeOverflow
        case subByteDType(String)
        case sizeMismatch(expected: Int, actual: Int)
        case invalidOffset(String)
        case fileLengthMismatch(expected: UInt64, actual: Int)
        case missingTensor
        case reservedName
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
        case let .headerTooSmall(n): return "file is \(n) bytes, too small for a safetensors header (needs at least 8)"
        case let .headerTooLarge(n): return "header length \(n) exceeds the 100 MB limit"
        case let .headerPastEnd(n, len):
            return "header length \(n) (ending at byte \(UInt64(8) &+ n)) runs past the end of the \(len)-byte file"
        case .headerNotUTF8: return "header is not valid UTF-8"
        case let .invalidJSON(why): return "header is not valid JSON: \(why)"
        case .headerNotObject: return "header is not a JSON object"
        case let .invalidEntry(why): return "invalid tensor entry: \(why)"
        case let .invalidMetadata(why): return "invalid __metadata__: \(why)"
        case let .unknownDType(d): return "unknown dtype \"\(d)\""
        case let .unsupportedDType(d): return "dtype \(d) cannot be read as this kind of value"
        case .sizeOverflow: return "shape size overflows"
        case let .subByteDType(d): return "sub-byte dtype \(d) is not supported"
        case let .sizeMismatch(e, a): return "data_offsets span \(a) bytes but dtype and shape need \(e)"
        case let .invalidOffset(why): return "invalid data_offsets: \(why)"
        case let .fileLengthMismatch(e, a): return "file is \(a) bytes but the header describes \(e)"
        case .missingTensor: return "no such tensor"
        case .reservedName: return "\"__metadata__\" is reserved and cannot name a tensor"
        }
    }
}
