import Foundation
import IPETAudio
import Testing

/// `VectorLog.flooredLog` replaces one `logf` per mel bin; it must agree with `logf` to about 1 ulp.
@Suite struct VectorLogTests {
    /// Largest |VectorLog − logf| relative to max(|logf|, 1) over `values`.
    static func worstError(_ values: [Float], floor: Float) -> Float {
        var got = values
        got.withUnsafeMutableBufferPointer { VectorLog.flooredLog($0.baseAddress!, count: $0.count, floor: floor) }
        var worst: Float = 0
        for (x, y) in zip(values, got) {
            let expected = logf(max(x, floor))
            worst = max(worst, abs(y - expected) / max(abs(expected), 1))
        }
        return worst
    }

    @Test("matches logf within 2.5e-7 relative (about 2 ulp) from 1e-37 to 1e38, and near 1")
    func accuracy() {
        var sweep: [Float] = []
        var x: Float = 1e-37
        while x < 1e38 {
            sweep.append(x)
            x *= 1.001
        }
        sweep += (0..<20_000).map { 0.5 + Float($0) / 20_000 }  // [0.5, 1.5): results near 0
        #expect(Self.worstError(sweep, floor: Float.leastNormalMagnitude) <= 2.5e-7)
    }

    @Test("exact where logf is: ln 1 = 0, and powers of two give e·ln 2 to 1 ulp")
    func exactPoints() {
        var values: [Float] = [1, 2, 4, 0.5, 1024]
        values.withUnsafeMutableBufferPointer { VectorLog.flooredLog($0.baseAddress!, count: $0.count, floor: 1e-7) }
        #expect(values[0] == 0)
        for (v, e) in zip(values.dropFirst(), [1, 2, -1, 10] as [Float]) {
            #expect(abs(v - e * Float(M_LN2)) <= Float(M_LN2) * abs(e) * 1.2e-7)
        }
    }

    @Test("values below the floor (zero and negatives included) give ln(floor)")
    func floorApplies() {
        var values: [Float] = [0, -1, 1e-30, 1.1920929e-07, -0.0, 5e-8, 1e-9, 0]
        values.withUnsafeMutableBufferPointer { VectorLog.flooredLog($0.baseAddress!, count: $0.count, floor: 1.1920929e-07) }
        #expect(values.allSatisfy { abs($0 - logf(1.1920929e-07)) <= 2e-6 })
    }

    @Test("NaN stays NaN and +∞ stays +∞; the finite neighbours are still correct")
    func nonFinite() {
        var values: [Float] = [2, .nan, .infinity, 3, 0.25, 7, 9, 11, 13]
        values.withUnsafeMutableBufferPointer { VectorLog.flooredLog($0.baseAddress!, count: $0.count, floor: 1e-7) }
        #expect(values[1].isNaN)
        #expect(values[2] == .infinity)
        #expect(values[0] == logf(2) && values[3] == logf(3) && values[8] == logf(13))
    }
}
