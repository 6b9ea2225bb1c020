/// A minimal PNG encoder (8-bit RGB, no interlace) for plots such as confusion matrices. The image data is
/// stored in uncompressed deflate blocks, which every PNG reader accepts; images here are small. Nothing in the
/// file depends on the time or the machine, so the same pixels always give the same bytes.
public struct PNGImage {
    public let width: Int
    public let height: Int
    /// Row-major RGB triples.
    public private(set) var pixels: [UInt8]

    public init(width: Int, height: Int, fill: (UInt8, UInt8, UInt8) = (255, 255, 255)) {
        precondition(width > 0 && height > 0 && width * height <= 1 << 26, "image too large")
        self.width = width
        self.height = height
        pixels = Array(repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) { (pixels[3 * i], pixels[3 * i + 1], pixels[3 * i + 2]) = fill }
    }

    /// Paints a rectangle; the part outside the image, if any, is dropped (text near an edge is clipped, not a trap).
    public mutating func fill(x: Int, y: Int, width w: Int, height h: Int, color: (UInt8, UInt8, UInt8)) {
        let x0 = max(0, x), x1 = min(width, x + w), y0 = max(0, y), y1 = min(height, y + h)
        guard x0 < x1, y0 < y1 else { return }
        for yy in y0..<y1 {
            for xx in x0..<x1 {
                let i = 3 * (yy * width + xx)
                (pixels[i], pixels[i + 1], pixels[i + 2]) = color
            }
        }
    }

    /// Draws `text` in `BitmapFont`, each font pixel a `scale`×`scale` square, with (`x`, `y`) the text's top-left
    /// corner. `upward` turns the text a quarter turn anticlockwise, to read from bottom to top (labels of columns
    /// too narrow for a word), with (`x`, `y`) then its bottom-left corner. Pixels outside the image are dropped.
    public mutating func draw(text: String, x: Int, y: Int, color: (UInt8, UInt8, UInt8), scale: Int = 1, upward: Bool = false) {
        for (k, character) in text.enumerated() {
            let glyph = BitmapFont.glyph(character)
            for gy in 0..<BitmapFont.glyphHeight {
                for gx in 0..<BitmapFont.glyphWidth where BitmapFont.isSet(glyph, x: gx, y: gy) {
                    let along = (k * BitmapFont.advance + gx) * scale, across = gy * scale
                    if upward {
                        fill(x: x + across, y: y - along - (scale - 1), width: scale, height: scale, color: color)
                    } else {
                        fill(x: x + along, y: y + across, width: scale, height: scale, color: color)
                    }
                }
            }
        }
    }

    /// The encoded file.
    public func encoded() -> [UInt8] {
        var raw: [UInt8] = []
        raw.reserveCapacity(height * (1 + 3 * width))
        for y in 0..<height {
            raw.append(0)  // filter: none
            raw += pixels[(3 * y * width)..<(3 * (y + 1) * width)]
        }
        var zlib: [UInt8] = [0x78, 0x01]
        var offset = 0
        repeat {
            let n = min(65_535, raw.count - offset)
            let last: UInt8 = offset + n == raw.count ? 1 : 0
            zlib += [last, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
            zlib += raw[offset..<(offset + n)]
            offset += n
        } while offset < raw.count
        zlib += bigEndian(Self.adler32(raw))
        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var header = bigEndian(UInt32(width)) + bigEndian(UInt32(height))
        header += [8, 2, 0, 0, 0]  // 8-bit, RGB, deflate, adaptive filtering, no interlace
        out += chunk("IHDR", header) + chunk("IDAT", zlib) + chunk("IEND", [])
        return out
    }

    private func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let typeBytes = Array(type.utf8)
        return bigEndian(UInt32(data.count)) + typeBytes + data + bigEndian(Self.crc32(typeBytes + data))
    }

    private func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

    static func adler32(_ data: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in data {
            a = (a + UInt32(byte)) % 65_521
            b = (b + a) % 65_521
        }
        return b << 16 | a
    }

    static let crcTable: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ data: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for byte in data { c = crcTable[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }
}
