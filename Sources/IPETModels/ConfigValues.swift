import IPETTensor
import IPETFormats

/// Reads a config number, falling back to `default` when the key is absent; rejects wrong types.
func configInt(_ config: JSONValue, _ key: String, default value: Int? = nil, source: String) throws(ModelError) -> Int {
    guard let v = config[key], v != .null else {
        if let value { return value }
        throw ModelError(source, "config.json lacks \"\(key)\"")
    }
    guard let i = v.int else { throw ModelError(source, "config.json \"\(key)\" must be an integer") }
    return i
}

func configDouble(_ config: JSONValue, _ key: String, default value: Double? = nil, source: String) throws(ModelError) -> Double {
    guard let v = config[key], v != .null else {
        if let value { return value }
        throw ModelError(source, "config.json lacks \"\(key)\"")
    }
    guard let d = v.double else { throw ModelError(source, "config.json \"\(key)\" must be a number") }
    return d
}

func configBool(_ config: JSONValue, _ key: String, default value: Bool, source: String) throws(ModelError) -> Bool {
    guard let v = config[key], v != .null else { return value }
    guard let b = v.bool else { throw ModelError(source, "config.json \"\(key)\" must be true or false") }
    return b
}

func configIntList(_ config: JSONValue, _ key: String, default value: [Int], source: String) throws(ModelError) -> [Int] {
    guard let v = config[key], v != .null else { return value }
    guard let a = v.array else { throw ModelError(source, "config.json \"\(key)\" must be a list of integers") }
    var out: [Int] = []
    for e in a {
        guard let i = e.int else { throw ModelError(source, "config.json \"\(key)\" must be a list of integers") }
        out.append(i)
    }
    return out
}

/// The labels a config declares: `num_labels` (at most `ModelLimits.labels`), or as many as `id2label` has.
func configLabels(_ config: JSONValue, source: String) throws(ModelError) -> [String] {
    var count = try configInt(config, "num_labels", default: 0, source: source)
    guard (0...ModelLimits.labels).contains(count) else {
        throw ModelError(source, "config.json \"num_labels\" is \(count); it must be from 0 to \(ModelLimits.labels)")
    }
    if let id2label = config["id2label"]?.object { count = id2label.count }
    return labelNames(config, count: count)
}

/// A config size that must lie in `range`; errors name the key.
func configBound(_ key: String, _ value: Int, _ range: ClosedRange<Int>, source: String) throws(ModelError) {
    guard range.contains(value) else {
        throw ModelError(source, "config.json \"\(key)\" is \(value); it must be from \(range.lowerBound) to \(range.upperBound)")
    }
}

/// Label names from `id2label` ordered by id; "LABEL_i" for gaps; `count` entries.
func labelNames(_ config: JSONValue, count: Int) -> [String] {
    var names = (0..<count).map { "LABEL_\($0)" }
    for (key, value) in config["id2label"]?.object ?? [] {
        if let i = Int(key), i >= 0, i < count, let name = value.string { names[i] = name }
    }
    return names
}
