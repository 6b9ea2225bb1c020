import Foundation
import IPETFormats
import IPETTestSupport
import XCTest

/// A bounded, deterministic stand-in for the PickleFuzz target: every committed torch fixture with random byte
/// changes (aimed mostly at the pickle and the central directory, where they matter), truncations and pickle-only
/// mutations. Nothing may crash; every outcome is either a checkpoint whose tensors all read, or a typed error.
final class TorchCheckpointMutationTests: XCTestCase {
    /// SplitMix64, so failures reproduce.
    private struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    private static let interestingBytes: [UInt8] = [0x00, 0x01, 0x7F, 0x80, 0xFF, 0x2E, 0x28, 0x52, 0x63, 0x71, 0x68, 0x85, 0x86]

    private func fixtureFiles() throws -> [String] {
        let dir = Fixtures.path("torch")
        var files: [String] = []
        for sub in ["", "malicious/"] {
            let names = try FileManager.default.contentsOfDirectory(atPath: dir + "/" + sub).sorted()
            files += names.filter { $0.hasSuffix(".pth") || $0.hasSuffix(".bin") || $0.hasSuffix(".pkl") || $0.hasSuffix(".pt") }
                .map { sub + $0 }
        }
        return files
    }

    /// Opens the bytes and reads every tensor like an importer would; returns whether it opened.
    @discardableResult
    private func exercise(_ bytes: [UInt8]) -> Bool {
        guard let checkpoint = try? TorchCheckpoint.read(bytes) else { return false }
        for info in checkpoint.tensors where info.elementCount <= 1 << 16 {
            if info.dtype.isFloatConvertible {
                XCTAssertEqual((try? checkpoint.floats(info))?.count, info.elementCount, info.name)
            }
            XCTAssertEqual(checkpoint.contiguousBytes(info).count, info.byteCount, info.name)
            if info.isContiguous { XCTAssertEqual((try? checkpoint.rawBytes(info))?.count, info.byteCount, info.name) }
        }
        return true
    }

    func testRandomByteChangesNeverCrash() throws {
        var rng = Generator(state: 0x1950_A86A)
        var opened = 0, refused = 0
        for name in try fixtureFiles() {
            let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("torch/" + name))))
            // Regions worth hitting: the pickle and the directory at the end.
            let pickleRange: Range<Int> = original.withUnsafeBytes { raw in
                let archive = try? ZipArchive(bytes: raw, path: name, owner: nil)
                return archive?.entries.first(where: { $0.name.hasSuffix("/data.pkl") })?.dataRange ?? 0..<raw.count
            }
            let tailStart = max(0, original.count - 400)
            let rounds = original.count > 100_000 ? 40 : 150
            for _ in 0..<rounds {
                var bytes = original
                for _ in 0..<Int.random(in: 1...6, using: &rng) {
                    let region = Int.random(in: 0..<10, using: &rng)
                    let range = region < 5 ? pickleRange : (region < 8 ? tailStart..<original.count : 0..<original.count)
                    guard !range.isEmpty else { continue }
                    let at = Int.random(in: range, using: &rng)
                    bytes[at] = Bool.random(using: &rng)
                        ? Self.interestingBytes.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng)
                }
                if exercise(bytes) { opened += 1 } else { refused += 1 }
            }
            // Truncations.
            for _ in 0..<10 { exercise(Array(original.prefix(Int.random(in: 0..<max(1, original.count), using: &rng)))) }
            // The pickle alone, cut and flipped.
            let pickle = Array(original[pickleRange])
            for _ in 0..<60 {
                var p = pickle
                let at = Int.random(in: 0..<max(1, p.count), using: &rng)
                if !p.isEmpty { p[at] = UInt8.random(in: 0...255, using: &rng) }
                if Bool.random(using: &rng) { p = Array(p.prefix(Int.random(in: 0...p.count, using: &rng))) }
                _ = try? PickleMachine.unpickle(p)
            }
        }
        // Both outcomes happen: mutations in tensor data leave a readable checkpoint, others are refused.
        XCTAssertGreaterThan(opened, 0)
        XCTAssertGreaterThan(refused, 0)
    }
}
