import Foundation
import IPETFormats
import IPETTestSupport
import XCTest

/// HDF5 inputs that crashed a reader (README "Fuzzing", HDF5Fuzz), kept in Fixtures/fuzz-regressions/hdf5.
/// A separate file from the HDF5 and TF checkpoint tests so it merges cleanly with work on the walk itself.
final class HDF5FuzzRegressionTests: XCTestCase {
    /// Fixtures/tf/malformed/overflow_dims.h5 with the kernel's dataspace patched to [0, 2^31, 2^32]: no elements,
    /// so every size check passed, then the Conv1D transpose computed strides 2^31 · 2^32 and trapped.
    func testEmptyDatasetWhoseSizesOverflowAnIntIsRefused() {
        let path = Fixtures.path("fuzz-regressions/hdf5/empty-dims-overflow.h5")
        XCTAssertThrowsError(try TFCheckpoint(path: path)) {
            XCTAssertTrue("\($0)".contains("exceed 64-bit element counts"), "\($0)")
            XCTAssertTrue("\($0)".contains("empty-dims-overflow.h5"), "\($0)")
        }
    }

    /// HDF5Fuzz finding (minimised, 5 kB): a mutated container whose group links back to itself; the container
    /// walk followed it until the stack overflowed. The walk now opens each child in its parent once and refuses a
    /// group seen before; on this file libhdf5 refuses the mutated link first.
    func testGroupCycleIsRefusedBeforeTheStackRunsOut() {
        let path = Fixtures.path("fuzz-regressions/hdf5/group-cycle.h5")
        XCTAssertThrowsError(try HDF5TensorContainer(path: path)) {
            XCTAssertTrue($0 is HDF5Error, "\($0)")
            XCTAssertTrue("\($0)".contains("group-cycle.h5"), "\($0)")
        }
    }

    /// HDF5Fuzz finding: `external_link.h5` whose new-style group's Link Info message names a fractal heap and a
    /// name-index B-tree outside the file; libhdf5 1.10.8 read through NULL when the Keras reader looked up a link.
    /// `HDF5Integrity.checkLinkInfo` refuses it at open, for both readers.
    func testLinkInfoAddressesOutsideTheFileAreRefusedAtOpen() {
        let path = Fixtures.path("fuzz-regressions/hdf5/link-info-addresses-outside.h5")
        XCTAssertThrowsError(try TFCheckpoint(path: path)) {
            XCTAssertTrue("\($0)".contains("link info message"), "\($0)")
            XCTAssertTrue("\($0)".contains("lies outside the file"), "\($0)")
            XCTAssertTrue("\($0)".contains("link-info-addresses-outside.h5"), "\($0)")
        }
        XCTAssertThrowsError(try HDF5TensorContainer(path: path)) { XCTAssertTrue("\($0)".contains("link info message"), "\($0)") }
    }
}
