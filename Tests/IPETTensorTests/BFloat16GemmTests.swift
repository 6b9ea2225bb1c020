import Foundation
import IPETTensor
import XCTest

/// bfloat16 rounding (to nearest, ties to even, NaN kept) and the bfloat16 product against float32 arithmetic on the
/// same rounded operands.
final class BFloat16GemmTests: XCTestCase {
    override func setUp() { ComputeThreads.configure(2) }
    override func tearDown() { GemmBackend.current = .onednn }

    private func bits(_ x: Float, scale: Float = 1) -> UInt16 {
        var out: UInt16 = 0
        [x].withUnsafeBufferPointer { BFloat16Gemm.convert($0.baseAddress!, rows: 1, cols: 1, ld: 1, scale: scale, into: &out) }
        return out
    }

    func testConversionRoundsToNearestEven() {
        XCTAssertEqual(bits(1), 0x3F80)
        XCTAssertEqual(bits(-2.5), 0xC020)
        // 1 + 2^-8 lies halfway between 1 (even) and 1 + 2^-7: down to 1.
        XCTAssertEqual(bits(1 + 0x1p-8), 0x3F80)
        // 1 + 3·2^-8 lies halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even): up.
        XCTAssertEqual(bits(1 + 3 * 0x1p-8), 0x3F82)
        // Just above halfway rounds up.
        XCTAssertEqual(bits(1 + 0x1p-8 + 0x1p-20), 0x3F81)
        XCTAssertEqual(bits(.infinity), 0x7F80)
        XCTAssertEqual(bits(-.infinity), 0xFF80)
        // The largest float32 is past the largest bfloat16's halfway point: it rounds to infinity, as IEEE says.
        XCTAssertEqual(bits(.greatestFiniteMagnitude), 0x7F80)
        let nan = bits(.nan)
        XCTAssertEqual(nan & 0x7F80, 0x7F80)
        XCTAssertNotEqual(nan & 0x007F, 0, "a NaN stays a NaN")
        XCTAssertEqual(bits(Float(bitPattern: 0x7F80_0001)) & 0x7FFF, 0x7FC0, "a signalling NaN with only low bits set stays NaN")
        XCTAssertEqual(bits(0x1p-140), 0x0000, "a subnormal below half the smallest bfloat16 subnormal goes to zero")
        XCTAssertEqual(bits(0x1p-133), 0x0001, "the smallest bfloat16 subnormal is kept")
        XCTAssertEqual(bits(3, scale: 0.5), 0x3FC0, "the scale applies before rounding")
    }

    /// `round` keeps exactly `convert`'s values in float32, over a strided block.
    func testRoundingInFloat32KeepsTheConvertedValues() {
        let rows = 7, cols = 13, ld = 20
        var state: UInt64 = 99
        let src: [Float] = (0..<(rows * ld)).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(bitPattern: UInt32(truncatingIfNeeded: state >> 32) & 0xBFFF_FFFF)  // finite, any magnitude
        }
        var converted = [UInt16](repeating: 0, count: rows * cols), rounded = [Float](repeating: 0, count: rows * cols)
        BFloat16Gemm.convert(src, rows: rows, cols: cols, ld: ld, scale: 0.75, into: &converted)
        BFloat16Gemm.round(src, rows: rows, cols: cols, ld: ld, scale: 0.75, into: &rounded)
        for i in 0..<(rows * cols) {
            XCTAssertEqual(rounded[i].bitPattern, UInt32(converted[i]) << 16, "element \(i)")
            let x = 0.75 * src[(i / cols) * ld + i % cols]
            if x.isFinite, abs(x) < 1e38, abs(x) > 1e-37 {
                XCTAssertLessThanOrEqual(abs(rounded[i] - x), abs(x) * 0x1p-8, "within half a bfloat16 ulp")
            }
        }
    }

    /// Where the CPU has bf16 dot products: the oneDNN product equals a float32 product of the rounded operands up to
    /// summation order (products of two bfloat16 values are exact in float32), with the operand layouts attention uses
    /// (B as a transposed contiguous matrix, and plain).
    func testNativeProductEqualsTheFloat32ProductOfRoundedOperands() throws {
        guard BFloat16Gemm.isNative else {
            throw XCTSkip("this CPU has no bf16 dot products (oneDNN ISA \(Gemm.oneDNNDescription)); the emulated path is tested in Int8BackboneTests")
        }
        for (m, n, k, transposedB) in [(37, 300, 64, true), (128, 64, 301, false), (1, 5, 3, true)] {
            var state: UInt64 = UInt64(m * 1000 + n)
            func random(_ count: Int) -> [Float] {
                (0..<count).map { _ in
                    state = state &* 6364136223846793005 &+ 1442695040888963407
                    return Float(state >> 40) / Float(1 << 24) * 2 - 1
                }
            }
            let a = random(m * k), b = random(k * n)  // b is [n, k] when transposed, else [k, n]
            var ab = [UInt16](repeating: 0, count: a.count), bb = [UInt16](repeating: 0, count: b.count)
            var ar = [Float](repeating: 0, count: a.count), br = [Float](repeating: 0, count: b.count)
            BFloat16Gemm.convert(a, rows: 1, cols: a.count, ld: a.count, into: &ab)
            BFloat16Gemm.convert(b, rows: 1, cols: b.count, ld: b.count, into: &bb)
            BFloat16Gemm.round(a, rows: 1, cols: a.count, ld: a.count, into: &ar)
            BFloat16Gemm.round(b, rows: 1, cols: b.count, ld: b.count, into: &br)
            var c = [Float](repeating: .nan, count: m * n)
            BFloat16Gemm.gemmSerial(m: m, n: n, k: k, a: ab, aRowStride: k, b: bb, bRowStride: transposedB ? 1 : n,
                                    bColumnStride: transposedB ? k : 1, c: &c, ldc: n)
            for i in 0..<m {
                for j in 0..<n {
                    var exact = 0.0, magnitude = 0.0
                    for p in 0..<k {
                        let bv = Double(transposedB ? br[j * k + p] : br[p * n + j])
                        exact += Double(ar[i * k + p]) * bv
                        magnitude += abs(Double(ar[i * k + p]) * bv)
                    }
                    XCTAssertEqual(Double(c[i * n + j]), exact, accuracy: 1e-6 * magnitude + 1e-30, "\(m)×\(n)×\(k) [\(i), \(j)]")
                }
            }
        }
    }
}
