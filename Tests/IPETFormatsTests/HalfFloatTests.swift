import IPETFormats
import XCTest

final class HalfFloatTests: XCTestCase {
    func testEveryHalfValueRoundTripsThroughFloat() {
        for bits in UInt16.min...UInt16.max {
            let f = HalfFloat.float(fromHalfBits: bits)
            if f.isNaN {
                XCTAssertTrue(HalfFloat.float(fromHalfBits: HalfFloat.halfBits(from: f)).isNaN)
            } else {
                XCTAssertEqual(HalfFloat.halfBits(from: f), bits, "half bits \(bits) → \(f)")
            }
        }
    }

    func testKnownHalfValues() {
        XCTAssertEqual(HalfFloat.float(fromHalfBits: 0x3C00), 1)
        XCTAssertEqual(HalfFloat.float(fromHalfBits: 0x7BFF), 65504)
        XCTAssertEqual(HalfFloat.float(fromHalfBits: 0x0001), 5.9604645e-08)
        XCTAssertEqual(HalfFloat.float(fromHalfBits: 0xC000), -2)
        XCTAssertEqual(HalfFloat.float(fromHalfBits: 0x7C00), .infinity)
        // Rounding to nearest even: 1 + 2^-11 is halfway between 1 and the next half; it rounds to 1.
        XCTAssertEqual(HalfFloat.halfBits(from: 1 + 1.0 / 2048), 0x3C00)
        XCTAssertEqual(HalfFloat.halfBits(from: 1e6), 0x7C00)
    }

    func testBFloat16RoundsToNearestEven() {
        XCTAssertEqual(HalfFloat.bfloat16Bits(from: 1), 0x3F80)
        XCTAssertEqual(HalfFloat.float(fromBFloat16Bits: 0x4049), 3.140625)
        XCTAssertEqual(HalfFloat.bfloat16Bits(from: Float(bitPattern: 0x3F80_8000)), 0x3F80)  // tie → even
        XCTAssertEqual(HalfFloat.bfloat16Bits(from: Float(bitPattern: 0x3F81_8000)), 0x3F82)  // tie → even
        XCTAssertEqual(HalfFloat.bfloat16Bits(from: Float(bitPattern: 0x3F80_8001)), 0x3F81)
    }
}
