/// A JSON document parsed strictly, with object member order preserved.
///
/// Why our own parser: safetensors headers come from strangers, and the reference reader's rules (no duplicate
/// keys, integers that must fit u64 exactly, no trailing garbage, bounded nesting) cannot be enforced on top of
/// Foundation's `JSONSerialization`, which keeps the last duplicate and turns every number into a double.
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    /// A number written without fraction or exponent that fits in `Int64` / `UInt64`.
    case integer(JSONInteger)
    /// Any other number.
    case double(Double)
    case string(String)
    case array([JSONValue])
    /// Members in document order; keys are unique (the parser rejects duplicates).
    case object([(key: String, value: JSONValue)])

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.integer(a), .integer(b)): return a == b
        case let (.double(a), .double(b)): return a == b
        case let (.string(a), .string(b)): return a == b
        case let (.array(a), .array(b)): return a == b
        case let (.object(a), .object(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    public subscript(key: String) -> JSONValue? {
        guard case let .object(members) = self else { return nil }
        return members.first(where: { $0.key == key })?.value
    }

    public var string: String? {
        if case let .string(s) = self { return s }
        return nil
    }

    public var bool: Bool? {
        if case let .bool(b) = self { return b }
        return nil
    }

    /// The value as an `Int`, when it is an integer (or a double with an exact integer value) that fits.
    public var int: Int? {
        switch self {
        case let .integer(i): return i.asInt
        case let .double(d):
            guard d.isFinite, d == d.rounded(.towardZero), abs(d) < 9.0e15 else { return nil }
            return Int(d)
        default: return nil
        }
    }

    public var double: Double? {
        switch self {
        case let .integer(i): return i.asDouble
        case let .double(d): return d
        default: return nil
        }
    }

    public var array: [JSONValue]? {
        if case let .array(a) = self { return a }
        return nil
    }

    public var object: [(key: String, value: JSONValue)]? {
        if case let .object(o) = self { return o }
        return nil
    }
}

/// An integer literal kept exactly: negative values as `Int64`, non-negative ones as `UInt64`.
public enum JSONInteger: Equatable, Sendable {
    case negative(Int64)
    case nonNegative(UInt64)

    public var asInt: Int? {
        switch self {
        case let .negative(v): return Int(exactly: v)
        case let .nonNegative(v): return Int(exactly: v)
        }
    }

    public var asUInt64: UInt64? {
        if case let .nonNegative(v) = self { return v }
        return nil
    }

    public var asDouble: Double {
        switch self {
        case let .negative(v): return Double(v)
        case let .nonNegative(v): return Double(v)
        }
    }
}

extension JSONValue {
    /// Compact serialisation (no spaces), members in stored order. Non-finite doubles are written as `null`.
    public var compactText: String {
        var out = ""
        write(to: &out, indent: nil, level: 0)
        return out
    }

    /// Human-readable serialisation with two-space indentation.
    public var prettyText: String {
        var out = ""
        write(to: &out, indent: "  ", level: 0)
        return out
    }

    private func write(to out: inout String, indent: String?, level: Int) {
        switch self {
        case .null: out += "null"
        case let .bool(b): out += b ? "true" : "false"
        case let .integer(.negative(v)): out += String(v)
        case let .integer(.nonNegative(v)): out += String(v)
        case let .double(d): out += Self.format(d)
        case let .string(s): Self.writeString(s, to: &out)
        case let .array(a):
            if a.isEmpty {
                out += "[]"
                return
            }
            out += "["
            for (i, element) in a.enumerated() {
                if i > 0 { out += "," }
                if let indent {
                    out += "\n" + String(repeating: indent, count: level + 1)
                }
                element.write(to: &out, indent: indent, level: level + 1)
            }
            if let indent { out += "\n" + String(repeating: indent, count: level) }
            out += "]"
        case let .object(o):
            if o.isEmpty {
                out += "{}"
                return
            }
            out += "{"
            for (i, member) in o.enumerated() {
                if i > 0 { out += "," }
                if let indent {
                    out += "\n" + String(repeating: indent, count: level + 1)
                }
                Self.writeString(member.key, to: &out)
                out += indent == nil ? ":" : ": "
                member.value.write(to: &out, indent: indent, level: level + 1)
            }
            if let indent { out += "\n" + String(repeating: indent, count: level) }
            out += "}"
        }
    }

    /// Shortest text that round-trips, as JSON allows (no NaN/Infinity: those become null).
    public static func format(_ d: Double) -> String {
        guard d.isFinite else { return "null" }
        if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
        return "\(d)"
    }

    public static func writeString(_ s: String, to out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let c where c.value < 0x20:
                let hex = String(c.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}

extension JSONValue {
    /// A Float written with its shortest round-tripping decimal (JSON has no NaN/Infinity: those become null).
    public static func float(_ value: Float) -> JSONValue {
        guard value.isFinite else { return .null }
        return .double(Double(value.description) ?? Double(value))
    }

    public static func int(_ value: Int) -> JSONValue {
        value < 0 ? .integer(.negative(Int64(value))) : .integer(.nonNegative(UInt64(value)))
    }
}
