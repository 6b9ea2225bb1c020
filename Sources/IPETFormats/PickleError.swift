

/// Why a pickle was refused, and at which byte of the pickle stream.
public struct PickleError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Offset of the opcode being executed within the pickle.
    public let offset: Int
    public let problem: Problem

    public enum Problem: Equatable, Sendable {
        /// A global outside the allowlist, e.g. `os.system`; the qualified name as written in the pickle.
        case forbiddenGlobal(String)
        /// An opcode that could construct arbitrary objects or reach outside the stream (`INST`, `OBJ`, `EXT1`,
        /// `PERSID`, `NEXT_BUFFER`...), with the global it names when it names one.
        case forbiddenOpcode(String)
        /// `REDUCE`/`NEWOBJ`/`BUILD` applied to something that may not be called this way.
        case forbiddenCall(String)
        /// A known torch global that this reader does not handle (quantized or complex storages, ...).
        case unsupported(String)
        case unknownOpcode(UInt8)
        case truncated(String)
        case stackUnderflow(String)
        case noMark(String)
        case memoMissing(Int)
        case invalidArgument(String)
        case invalidText(String)
        case integerTooLarge
        case limitExceeded(String)
        case noStop
        case trailingBytes(Int)
        case malformedStop(String)
    }

    public init(offset: Int, problem: Problem) {
        self.offset = offset
        self.problem = problem
    }

    public var description: String { "pickle byte \(offset): \(problemText)" }

    public var problemText: String {
        switch problem {
        case let .forbiddenGlobal(name):
            let hint = name.hasPrefix("torch.nn.modules.") || name.hasPrefix("__main__.")
                ? "; this looks like a whole pickled model: save model.state_dict() instead" : ""
            return "forbidden global \(printableUntrusted(name)) (only the globals of a plain state dict are allowed; nothing is executed\(hint))"
        case let .forbiddenOpcode(what): return "opcode \(printableUntrusted(what)) is not allowed"
        case let .forbiddenCall(what): return printableUntrusted(what)
        case let .unsupported(what): return "unsupported: \(printableUntrusted(what))"
        case let .unknownOpcode(op): return "unknown opcode 0x\(String(op, radix: 16))"
        case let .truncated(op): return "\(op) runs past the end of the pickle"
        case let .stackUnderflow(op): return "\(op) needs more values than the stack holds"
        case let .noMark(op): return "\(op) without a MARK"
        case let .memoMissing(i): return "memo entry \(i) was never stored"
        case let .invalidArgument(why): return printableUntrusted(why)
        case let .invalidText(why): return printableUntrusted(why)
        case .integerTooLarge: return "integer does not fit in 64 bits"
        case let .limitExceeded(why): return "limit exceeded: \(why)"
        case .noStop: return "the pickle ends without STOP"
        case let .trailingBytes(n): return "\(n) bytes after STOP"
        case let .malformedStop(why): return "STOP \(why)"
        }
    }
}
