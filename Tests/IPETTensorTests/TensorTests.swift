import IPETFormats
import IPETTensor
import IPETTestSupport
import XCTest

final class TensorTests: XCTestCase {
    func testF32TensorsFromSafetensorsAreZeroCopyViewsOfTheMapping() throws {
        let dir = Fixtures.temporaryDirectory()
        let path = dir.appendingPathComponent("w.safetensors").path
        var writer = SafeTensorsWriter(metadata: [("format", "pt")])
        writer.add(.init(name: "w", shape: [2, 3], floats: [1, 2, 3, 4, 5, 6]))
        writer.add(.init(name: "h", shape: [3], floats: [0.5, -2, 65504], as: .f16))
        writer.add(.init(name: "b", shape: [2], floats: [1.5, -0.25], as: .bf16))
        try writer.write(to: path)
        let file = try SafeTensorsFile(path: path)
        let w = try Tensor.load("w", from: file)
        XCTAssertTrue(w.isMapped)
        XCTAssertEqual(w.shape, [2, 3])
        XCTAssertEqual(w.array, [1, 2, 3, 4, 5, 6])
        let h = try Tensor.load("h", from: file)
        XCTAssertFalse(h.isMapped)
        XCTAssertEqual(h.array, [0.5, -2, 65504])
        XCTAssertEqual(try Tensor.load("b", from: file).array, [1.5, -0.25])
        XCTAssertThrowsError(try Tensor.load("missing", from: file))
    }

    func testReshapeAndRowViewsShareStorage() {
        let t = Tensor(shape: [3, 2], values: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(t.rows(1, count: 2).array, [3, 4, 5, 6])
        XCTAssertEqual(t.reshaped([2, 3]).rows(1, count: 1).array, [4, 5, 6])
        t.rows(2, count: 1).mutableData[0] = 9
        XCTAssertEqual(t.array, [1, 2, 3, 4, 9, 6])
    }
}
