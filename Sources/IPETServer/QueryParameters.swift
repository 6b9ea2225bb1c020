import Hummingbird

/// A request's query parameters, read strictly: an unknown name or a malformed value is a 400 naming it, so a typo
/// (`topk=3`) never silently falls back to a default.
struct QueryParameters {
    private let pairs: [(name: String, value: String)]

    init(_ pairs: [(name: String, value: String)], allowed: Set<String>) throws(ServerError) {
        self.pairs = pairs
        for (name, _) in pairs where !allowed.contains(name) {
            throw ServerError(.badRequest, "unknown query parameter \"\(name)\" (this route takes: \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    init(_ request: Request, allowed: Set<String>) throws(ServerError) {
        try self.init(request.uri.queryParameters.map { (String($0.key), String($0.value)) }, allowed: allowed)
    }

    func all(_ name: String) -> [String] { pairs.filter { $0.name == name }.map(\.value) }

    /// The one value of `name`, or nil; given twice is an error.
    func single(_ name: String) throws(ServerError) -> String? {
        let values = all(name)
        guard values.count <= 1 else { throw ServerError(.badRequest, "query parameter \"\(name)\" is given \(values.count) times") }
        return values.first
    }

    func int(_ name: String, in range: ClosedRange<Int>) throws(ServerError) -> Int? {
        guard let text = try single(name) else { return nil }
        guard let n = Int(text), range.contains(n) else {
            throw ServerError(.badRequest, "\(name)=\(text): expected a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return n
    }

    /// Seconds: 0 when `allowZero`, else within `range`.
    func seconds(_ name: String, in range: ClosedRange<Double>, allowZero: Bool) throws(ServerError) -> Double? {
        guard let text = try single(name) else { return nil }
        guard let x = Double(text), x.isFinite, (allowZero && x == 0) || range.contains(x) else {
            throw ServerError(.badRequest, "\(name)=\(text): expected \(allowZero ? "0 (off) or " : "")\(range.lowerBound) to \(range.upperBound) seconds")
        }
        return x
    }

    func bool(_ name: String) throws(ServerError) -> Bool {
        guard let text = try single(name) else { return false }
        switch text.lowercased() {
        case "true", "1", "": return true
        case "false", "0": return false
        default: throw ServerError(.badRequest, "\(name)=\(text): expected true or false")
        }
    }
}
