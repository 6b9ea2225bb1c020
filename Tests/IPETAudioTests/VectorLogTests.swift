import Foundation
import IPETAudio
import XCTest

/// `VectorLog.flooredLog` replaces one `logf` per mel bin; it must agree with `logf` to about 1 ulp.
final class VectorLogTests: XCTestCase {
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

    /// Matches logf within 2.5e-7 relative (about 2 ulp) from 1e-37 to 1e38, and near 1.
    func testAccuracy() {
        var sweep: [Float] = []
        var x: Float = 1e-37
        while x < 1e38 {
            sweep.append(x)
            x *= 1.001
        }
        sweep += (0..<20_000).map { 0.5 + Float($0) / 20_000 }  // [0.5, 1.5): results near 0
        XCTAssertLessThanOrEqual(Self.worstError(sweep, floor: Float.leastNormalMagnitude), 2.5e-7)
    }

    /// Exact where logf is: ln 1 = 0, and powers of two give e·ln 2 to 1 ulp.
    func testExactPoints() {
        var values: [Float] = [1, 2, 4, 0.5, 1024]
        values.withUnsafeMutableBufferPointer { VectorLog.flooredLog($0.baseAddress!, count: $0.count, floor: 1e-7) }
        XCTAssertEqual(values[0], 0)
        for (v, e) in zip(values.dropFirst(), [1, 2, -1, 10] as [Float]) {
            XCTAssertLessThanOrEqual(abs(v - e * Float(M_LN2)), Float(M_LN2) * abs(e) * 1.2e-7, "e = \(e)")
        }
    }

    /// Values below the floor (zero and negatives included) give ln(floor).
    func testFloorApplies() {
        var values: [Float] = [0, -1, 1e-30, 1.1920929e-07, -0.0, 5e-8, 1e-9, 0]
        values.withUnsafeMutableBufferPointer { VectorLog.flooredLog($0.baseAddress!, count: $0.count, floor: 1.1920929e-07) }
        XCTAssertTrue(values.allSatisfy { abs($0 - logf(1.1920929e-07)) <= 2e-6 }, "\(values)")
    }

    /// NaN stays NaN and +∞ stays +∞; the finite neighbours are still correct.
    func testNonFinite() {
        var values: [Float] = [2, .nan, .infinity, 3, 0.25, 7, 9, 11, 13]
        values.withUnsafeMutableBufferPointer { VectorLog.flooredLog($0.baseAddress!, count: $0.count, floor: 1e-7) }
        XCTAssertTrue(values[1].isNaN, "\(values[1])")
        XCTAssertEqual(values[2], .infinity)
        XCTAssertEqual(values[0], logf(2))
        XCTAssertEqual(values[3], logf(3))
        XCTAssertEqual(values[8], logf(13))
    }
}
