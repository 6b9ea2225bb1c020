import Foundation
import IPETFormats

/// `--shard K/N`: a deterministic slice of the inputs by a hash of each input's `shardKey` (the same for every
/// spelling of an input: `big/x.wav`, `./big/x.wav` and `$PWD/big/x.wav` share it), so it depends neither on order
/// nor on how the inputs were written, and N jobs together cover every input exactly once.
public struct Shard: Sendable, Equatable {
    public let index: Int
    public let count: Int

    public init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    /// Parses "K/N" with 0 ≤ K < N.
    public init?(_ text: String) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]), n > 0, k >= 0, k < n else { return nil }
        self.init(index: k, count: n)
    }

    public func contains(_ name: String) -> Bool {
        Int(Self.fnv1a(name) % UInt64(count)) == index
    }

    /// FNV-1a 64 over the UTF-8 bytes: stable across runs, machines and Swift versions (unlike `hashValue`).
    public static func fnv1a(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        return h
    }
}
