import Foundation
import IPETTestSupport
import XCTest

/// Checks answers against `Formats/http-api.openapi.json`: each answer's status must be documented for its route,
/// its JSON body must match the documented schema (types, required fields, nested arrays and objects), and at the
/// end every documented route and status must have been seen.
final class OpenAPIContract: @unchecked Sendable {
    private let spec: [String: Any]
    private let lock = NSLock()
    private var seen = Set<String>()

    init() throws {
        let data = try Data(contentsOf: Fixtures.root.appendingPathComponent("Formats/http-api.openapi.json"))
        spec = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// Every "METHOD path status" the file documents.
    var documented: Set<String> {
        var all = Set<String>()
        for (path, item) in spec["paths"] as! [String: [String: Any]] {
            for (method, op) in item where method != "parameters" {
                for status in ((op as! [String: Any])["responses"] as! [String: Any]).keys { all.insert("\(method.uppercased()) \(path) \(status)") }
            }
        }
        return all
    }

    var unexercised: [String] {
        lock.lock()
        defer { lock.unlock() }
        return documented.subtracting(seen).sorted()
    }

    /// Checks one answer; `route` is the documented path template (`/v1/packs/{name}`).
    func check(_ method: String, _ route: String, _ reply: APIClient.Reply, file: StaticString = #filePath, line: UInt = #line) {
        let key = "\(method) \(route) \(reply.status)"
        guard let item = (spec["paths"] as! [String: Any])[route] as? [String: Any],
              let op = item[method.lowercased()] as? [String: Any],
              let response = (op["responses"] as! [String: Any])[String(reply.status)] as? [String: Any] else {
            XCTFail("\(key) is not documented in the OpenAPI file (body: \(reply.text))", file: file, line: line)
            return
        }
        lock.lock()
        seen.insert(key)
        lock.unlock()
        guard let content = response["content"] as? [String: Any] else {
            XCTAssertTrue(reply.body.isEmpty, "\(key) documents no body but got \(reply.text)", file: file, line: line)
            return
        }
        if let json = content["application/json"] as? [String: Any] {
            XCTAssertTrue(reply.headers.first(name: "Content-Type")?.hasPrefix("application/json") == true, "\(key): not JSON", file: file, line: line)
            guard let value = reply.json else { return XCTFail("\(key): body is not JSON: \(reply.text)", file: file, line: line) }
            let problems = validate(value, json["schema"] as! [String: Any], at: "$")
            XCTAssertTrue(problems.isEmpty, "\(key): \(problems.joined(separator: "; ")) in \(reply.text.prefix(300))", file: file, line: line)
        }
        if let headers = response["headers"] as? [String: Any] {
            for name in headers.keys { XCTAssertNotNil(reply.headers.first(name: name), "\(key): header \(name) missing", file: file, line: line) }
        }
    }

    private func resolve(_ schema: [String: Any]) -> [String: Any] {
        guard let ref = schema["$ref"] as? String else { return schema }
        var node: Any = spec
        for part in ref.dropFirst(2).split(separator: "/") { node = (node as! [String: Any])[String(part)]! }
        return resolve(node as! [String: Any])
    }

    func validate(_ value: Any, _ schema: [String: Any], at path: String) -> [String] {
        let schema = resolve(schema)
        switch schema["type"] as? String {
        case "object":
            guard let object = value as? [String: Any] else { return ["\(path) is not an object"] }
            var problems: [String] = []
            for name in schema["required"] as? [String] ?? [] where object[name] == nil { problems.append("\(path).\(name) missing") }
            let properties = schema["properties"] as? [String: Any] ?? [:]
            for (name, v) in object {
                guard let sub = properties[name] as? [String: Any] else { problems.append("\(path).\(name) is not documented"); continue }
                problems += validate(v, sub, at: "\(path).\(name)")
            }
            return problems
        case "array":
            guard let array = value as? [Any] else { return ["\(path) is not an array"] }
            let items = schema["items"] as! [String: Any]
            return array.enumerated().flatMap { validate($1, items, at: "\(path)[\($0)]") }
        case "string": return value is String ? [] : ["\(path) is not a string"]
        case "boolean": return value is Bool ? [] : ["\(path) is not a boolean"]
        case "integer": return (value as? NSNumber).map { $0.doubleValue == $0.doubleValue.rounded() } == true ? [] : ["\(path) is not an integer"]
        case "number": return value is NSNumber ? [] : ["\(path) is not a number"]
        default: return []
        }
    }
}
