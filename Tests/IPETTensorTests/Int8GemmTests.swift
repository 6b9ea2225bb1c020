import Foundation
import IPETTensor
import XCTest

/// The int8 product against float64 arithmetic on the same quantised values: the test quantises A (per row or per
/// tensor, u8 with a zero point or s8) and W (per output channel, symmetric) itself, from the formulas of
/// `Formats/int8.md`, and multiplies the dequantised values in Double. The int32 accumulation is exact, so what is
/// left is float32 rounding of the rescale: held to 1e-4 relative (elementwise, plus 1e-6 of the output's largest
/// magnitude for outputs near zero after the bias).
final class Int8GemmTests: XCTestCase {
    override func setUp() { ComputeThreads.configure(2) }
    override func tearDown() { Int8ActivationScheme.current = .u8PerRow }

    private func random(_ n: Int, seed: UInt64, scale: Float = 1, offset: Float = 0) -> [Float] {
        var state = seed &* 6364136223846793005 &+ 1442695040888963407
        return (0..<n).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return (Float(state >> 40) / Float(1 << 24) * 2 - 1) * scale + offset
        }
    }

    /// The weight quantisation of the spec: scale = max|w|/127, q = round-half-even(w / scale) in −127…127.
    private func quantizeWeight(_ w: [Float], out: Int, in k: Int) -> (q: [Int8], scales: [Float]) {
        var q = [Int8](repeating: 0, count: w.count), scales = [Float](repeating: 1, count: out)
        for o in 0..<out {
            let row = w[(o * k)..<((o + 1) * k)]
            let largest = row.map(abs).max()!
            let s: Float = largest > 0 ? largest / 127 : 1
            scales[o] = s
            for i in 0..<k { q[o * k + i] = Int8(min(max((w[o * k + i] / s).rounded(.toNearestOrEven), -127), 127)) }
        }
        return (q, scales)
    }

    /// The activation quantisation of the spec, per row or per tensor: dequantised values `(q − z) · s`.
    private func dequantizedActivations(_ x: [Float], rows: Int, cols: Int, scheme: Int8ActivationScheme) -> [Double] {
        var out = [Double](repeating: 0, count: x.count)
        // 255 (u8) or 127 (s8); half that where oneDNN's ISA has no VNNI (`Int8ActivationScheme.top`).
        let top = Float(scheme.top)
        for r in 0..<rows {
            let row = scheme.isPerRow ? Array(x[(r * cols)..<((r + 1) * cols)]) : x
            let lo = min(row.min()!, 0), hi = max(row.max()!, 0)
            var scale: Float, zero: Float = 0
            if scheme.isSigned {
                scale = max(-lo, hi) / top
            } else {
                scale = (hi - lo) / top
                zero = min(max((-lo / scale).rounded(.toNearestOrEven), 0), top)
            }
            let inverse = 1 / scale
            for c in 0..<cols {
                let v = (x[r * cols + c] * inverse).rounded(.toNearestOrEven)
                let q = scheme.isSigned ? min(max(v, -top), top) : min(max(v + zero, 0), top)
                out[r * cols + c] = Double(q - zero) * Double(scale)
            }
        }
        return out
    }

    private func check(rows m: Int, out n: Int, in k: Int, bias: Bool, scheme: Int8ActivationScheme, parallel: Bool,
                       offset: Float = 0, file: StaticString = #filePath, line: UInt = #line) {
        Int8ActivationScheme.current = scheme
        let x = random(m * k, seed: UInt64(m * 31 + k), scale: 2, offset: offset)
        // Rows of different magnitude, as trained weights have.
        var w = random(n * k, seed: UInt64(n * 17 + k), scale: 0.05)
        for o in 0..<n { for i in 0..<k { w[o * k + i] *= Float(1 + o % 7) } }
        let b = random(n, seed: 99, scale: 0.5)
        let quantized = QuantizedWeight.quantize(Tensor(shape: [n, k], values: w))
        let (q, scales) = quantizeWeight(w, out: n, in: k)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: quantized.data, count: n * k)), q, "weight values", file: file, line: line)
        XCTAssertEqual(quantized.scales.array, scales, "weight scales", file: file, line: line)
        let a = dequantizedActivations(x, rows: m, cols: k, scheme: scheme)
        var reference = [Double](repeating: 0, count: m * n)
        for r in 0..<m {
            for o in 0..<n {
                var s = 0.0
                for i in 0..<k { s += a[r * k + i] * Double(q[o * k + i]) * Double(scales[o]) }
                reference[r * n + o] = s + (bias ? Double(b[o]) : 0)
            }
        }
        var y = [Float](repeating: .nan, count: m * n)
        x.withUnsafeBufferPointer { px in
            y.withUnsafeMutableBufferPointer { py in
                Int8Gemm.linear(px.baseAddress!, rows: m, weight: quantized, bias: bias ? Tensor(shape: [n], values: b) : nil,
                                into: py.baseAddress!, parallel: parallel)
            }
        }
        let largest = reference.map(abs).max()!
        var worst = 0.0
        for i in 0..<(m * n) {
            let excess = abs(Double(y[i]) - reference[i]) - (1e-4 * abs(reference[i]) + 1e-6 * largest)
            worst = max(worst, excess)
        }
        XCTAssertLessThanOrEqual(worst, 0, "\(m)×\(n)×\(k) \(scheme) bias \(bias)", file: file, line: line)
    }

    func testInt8ProductEqualsFloat64OnTheQuantisedValues() {
        for scheme in Int8ActivationScheme.allCases {
            check(rows: 37, out: 29, in: 50, bias: true, scheme: scheme, parallel: false)
            check(rows: 70, out: 96, in: 768, bias: false, scheme: scheme, parallel: true, offset: 0.7)
        }
        // The MLP depths, split over threads and into chunks (rows not a multiple of the chunk).
        check(rows: 203, out: 64, in: 768, bias: true, scheme: .u8PerRow, parallel: true)
        check(rows: 70, out: 96, in: 3072, bias: true, scheme: .u8PerRow, parallel: true, offset: -0.3)
    }

    func testFusedGELUAndEdgeCases() {
        let k = 40, n = 24, m = 9
        let x = random(m * k, seed: 5)
        let w = QuantizedWeight.quantize(Tensor(shape: [n, k], values: random(n * k, seed: 6, scale: 0.2)))
        let bias = Tensor(shape: [n], values: random(n, seed: 7))
        var plain = [Float](repeating: 0, count: m * n), fused = plain
        x.withUnsafeBufferPointer { px in
            Int8Gemm.linear(px.baseAddress!, rows: m, weight: w, bias: bias, into: &plain, parallel: false)
            Int8Gemm.linear(px.baseAddress!, rows: m, weight: w, bias: bias, activation: .gelu, into: &fused, parallel: false)
        }
        for i in 0..<(m * n) {
            let v = Double(plain[i])
            XCTAssertEqual(Double(fused[i]), 0.5 * v * (1 + erf(v / 2.0.squareRoot())), accuracy: 2e-6)
        }
        // An all-zero weight row gets scale 1 (never 0); an all-zero input row gives the bias exactly.
        let zeroRow = QuantizedWeight.quantize(Tensor(shape: [2, 3], values: [0, 0, 0, 1, -2, 0.5]))
        XCTAssertEqual(zeroRow.scales.array, [1, 2 / 127])
        var y = [Float](repeating: .nan, count: 4)
        let zeros = [Float](repeating: 0, count: 6)
        zeros.withUnsafeBufferPointer { Int8Gemm.linear($0.baseAddress!, rows: 2, weight: zeroRow,
                                                        bias: Tensor(shape: [2], values: [0.25, -1]), into: &y) }
        XCTAssertEqual(y, [0.25, -1, 0.25, -1])
        // A NaN in a row makes that row's outputs NaN (as float32 would), not numbers.
        let withNaN: [Float] = [1, .nan, 0, 1, 2, 3]
        withNaN.withUnsafeBufferPointer { Int8Gemm.linear($0.baseAddress!, rows: 2, weight: zeroRow, bias: nil, into: &y) }
        XCTAssertTrue(y[0].isNaN && y[1].isNaN)
        XCTAssertFalse(y[2].isNaN || y[3].isNaN)
    }

    func testDequantisedWeightIsScaleTimesValue() {
        let w = Tensor(shape: [3, 4], values: random(12, seed: 11))
        let q = QuantizedWeight.quantize(w)
        let d = q.dequantized()
        for o in 0..<3 {
            for i in 0..<4 {
                XCTAssertEqual(d.data[o * 4 + i], Float(q.data[o * 4 + i]) * q.scales.data[o])
                XCTAssertEqual(d.data[o * 4 + i], w.data[o * 4 + i], accuracy: q.scales.data[o] / 2 * 1.0001)
            }
        }
    }
}

/// The portable int8 product (`--gemm openblas`) against oneDNN's: both sum the same bytes exactly in int32 and share
/// the rescale, so the outputs are the same bits.
final class Int8GemmBackendTests: XCTestCase {
    override func setUp() { ComputeThreads.configure(2) }
    override func tearDown() {
        GemmBackend.current = .onednn
        Int8ActivationScheme.current = .u8PerRow
    }

    func testPortableProductEqualsOneDNNBitForBit() {
        for (m, n, k) in [(37, 29, 50), (203, 192, 96), (9, 768, 3072)] {
            var state: UInt64 = UInt64(m * n + k)
            func next() -> Float {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return Float(state >> 40) / Float(1 << 24) * 2 - 1
            }
            let x = (0..<(m * k)).map { _ in next() * 3 }
            let w = QuantizedWeight.quantize(Tensor(shape: [n, k], values: (0..<(n * k)).map { _ in next() * 0.1 }))
            let bias = Tensor(shape: [n], values: (0..<n).map { _ in next() })
            for scheme in Int8ActivationScheme.allCases {
                Int8ActivationScheme.current = scheme
                var outputs: [[Float]] = []
                for backend in GemmBackend.allCases {
                    GemmBackend.current = backend
                    var y = [Float](repeating: .nan, count: m * n)
                    x.withUnsafeBufferPointer { Int8Gemm.linear($0.baseAddress!, rows: m, weight: w, bias: bias, into: &y) }
                    outputs.append(y)
                }
                XCTAssertEqual(outputs[0], outputs[1], "\(m)×\(n)×\(k) \(scheme)")
            }
        }
    }
}
