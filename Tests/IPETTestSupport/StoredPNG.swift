import Foundation

/// Reads back the PNG files `PNGImage` writes (8-bit RGB, stored deflate blocks, filter "none"), so that tests can
/// look at pixels. Written apart from the encoder, checksums included, so that it checks the encoder rather than
/// sharing its mistakes; anything else (compressed blocks, other colour types) is refused, not guessed at.
public struct StoredPNG {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let width: Int
    public let height: Int
    /// Row-major RGB triples.
    public let pixels: [UInt8]

    public func pixel(x: Int, y: Int) -> [UInt8] {
        let i = 3 * (y * width + x)
        return Array(pixels[i..<(i + 3)])
    }

    public init(bytes: [UInt8]) throws {
        func fail(_ why: String) -> Failure { Failure(description: "PNG: " + why) }
        func u32(_ at: Int) -> Int { bytes[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) } }
        guard bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) else { throw fail("no signature") }
        var at = 8, header: [UInt8] = [], zlib: [UInt8] = [], ended = false
        while at + 12 <= bytes.count, !ended {
            let length = u32(at), type = String(decoding: bytes[(at + 4)..<(at + 8)], as: UTF8.self)
            guard at + 12 + length <= bytes.count else { throw fail("\(type) runs past the end") }
            let body = Array(bytes[(at + 8)..<(at + 8 + length)])
            guard u32(at + 8 + length) == Int(Self.crc32(Array(bytes[(at + 4)..<(at + 8)]) + body)) else { throw fail("\(type) CRC") }
            switch type {
            case "IHDR": header = body
            case "IDAT": zlib += body
            case "IEND": ended = true
            default: break
            }
            at += 12 + length
        }
        guard ended, at == bytes.count else { throw fail("no IEND at the end") }
        guard header.count == 13, header[8...] == [8, 2, 0, 0, 0] else { throw fail("not 8-bit RGB, no interlace") }
        width = header[0..<4].reduce(0) { $0 << 8 | Int($1) }
        height = header[4..<8].reduce(0) { $0 << 8 | Int($1) }
        guard zlib.count >= 6, zlib[0] & 0x0F == 8, (Int(zlib[0]) << 8 | Int(zlib[1])) % 31 == 0 else { throw fail("zlib header") }
        var raw: [UInt8] = [], p = 2, last = false
        while !last {
            guard p + 5 <= zlib.count, zlib[p] & 0b110 == 0 else { throw fail("not a stored deflate block") }
            last = zlib[p] & 1 == 1
            let n = Int(zlib[p + 1]) | Int(zlib[p + 2]) << 8, complement = Int(zlib[p + 3]) | Int(zlib[p + 4]) << 8
            guard n ^ complement == 0xFFFF, p + 5 + n <= zlib.count else { throw fail("stored block length") }
            raw += zlib[(p + 5)..<(p + 5 + n)]
            p += 5 + n
        }
        guard p + 4 == zlib.count, zlib[p...].reduce(0, { $0 << 8 | Int($1) }) == Int(Self.adler32(raw)) else { throw fail("Adler-32") }
        let stride = 1 + 3 * width
        guard raw.count == height * stride else { throw fail("\(raw.count) bytes of image data for \(width)×\(height)") }
        var pixels: [UInt8] = []
        pixels.reserveCapacity(3 * width * height)
        for y in 0..<height {
            guard raw[y * stride] == 0 else { throw fail("row \(y): filter \(raw[y * stride])") }
            pixels += raw[(y * stride + 1)..<((y + 1) * stride)]
        }
        self.pixels = pixels
    }

    static func crc32(_ data: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for byte in data {
            c ^= UInt32(byte)
            for _ in 0..<8 { c = c & 1 == 1 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
        }
        return ~c
    }

    static func adler32(_ data: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in data { a = (a + UInt32(byte)) % 65_521; b = (b + a) % 65_521 }
        return b << 16 | a
    }
}
