import Foundation
import IPETFormats
import IPETTensor

/// Locates committed fixtures and compares numbers with stated tolerances.
public enum Fixtures {
    /// The repository root, found from this source file's location (Tests/IPETTestSupport/Fixtures.swift).
    public static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Absolute path of `Fixtures/<relative>`.
    public static func path(_ relative: String) -> String {
        root.appendingPathComponent("Fixtures").appendingPathComponent(relative).path
    }

    public static func exists(_ relative: String) -> Bool {
        FileManager.default.fileExists(atPath: path(relative))
    }

    /// Opens a committed safetensors fixture.
    public static func safetensors(_ relative: String) throws -> SafeTensorsFile {
        try SafeTensorsFile(path: path(relative))
    }

    /// Makes a fresh temporary directory that is removed when the test process exits (normally; a crash leaves it).
    public static func temporaryDirectory(_ label: String = "ipet-test") -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        TemporaryDirectories.shared.register(url)
        return url
    }
}

/// The directories `Fixtures.temporaryDirectory` made, deleted by an `atexit` handler installed with the first one.
private final class TemporaryDirectories: @unchecked Sendable {
    static let shared = TemporaryDirectories()
    private let lock = NSLock()
    private var urls: [URL] = []
    private var installed = false

    func register(_ url: URL) {
        lock.lock()
        defer { lock.unlock() }
        urls.append(url)
        if !installed {
            installed = true
            atexit { TemporaryDirectories.shared.removeAll() }
        }
    }

    func removeAll() {
        lock.lock()
        let all = urls
        urls = []
        lock.unlock()
        for url in all { try? FileManager.default.removeItem(at: url) }
    }
}

/// Maximum absolute difference between two equally long sequences (infinity if the lengths differ or a NaN
/// appears on one side only).
public func maxAbsDifference<A: Collection, B: Collection>(_ a: A, _ b: B) -> Float
where A.Element == Float, B.Element == Float {
    guard a.count == b.count else { return .infinity }
    var worst: Float = 0
    for (x, y) in zip(a, b) {
        if x.isNaN != y.isNaN { return .infinity }
        if x.isNaN { continue }
        worst = max(worst, abs(x - y))
    }
    return worst
}
