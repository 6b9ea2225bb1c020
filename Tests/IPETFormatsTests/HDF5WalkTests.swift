import Foundation
import IPETFormats
import IPETTestSupport
import XCTest

/// Walking HDF5 groups terminates and stays bounded (`Formats/hdf5.md` §3): link cycles and deep nesting are refused
/// by name, the walk is one pass per group, and a checkpoint's declared sizes are bounded before anything is
/// decompressed. The files are written by libhdf5 at test time (`HDF5TestFile`).
final class HDF5WalkTests: XCTestCase {
    private func temporary(_ name: String) -> String {
        Fixtures.temporaryDirectory("hdf5-walk").appendingPathComponent(name).path
    }

    /// A group holding a hard link to itself used to make the container reader (and so `ipet inspect`) loop forever.
    func testAGroupLinkedToItselfIsACycleNamedNotAnEndlessWalk() throws {
        let path = temporary("cycle.h5")
        try HDF5TestFile.selfLinkedGroup(at: path)
        for read in [{ _ = try HDF5File(path: path).walk() }, { _ = try HDF5TensorContainer(path: path) }] {
            XCTAssertThrowsError(try read()) { error in
                guard let error = error as? HDF5Error, case let .groupReachedTwice(first) = error.problem else {
                    return XCTFail("\(error)")
                }
                XCTAssertEqual(first, "/a")
                XCTAssertEqual(error.object, "/a/self")
                XCTAssertTrue("\(error)".hasPrefix(path + ": \"/a/self\": "), "\(error)")
            }
        }
        // Paths through the cycle still resolve one link at a time (and stay within the depth bound).
        let file = try HDF5File(path: path)
        XCTAssertEqual(try file.floats("/a/self/self/w").values, [1, 2, 3, 4])
        let deep = "/a" + String(repeating: "/self", count: HDF5File.maxDepth + 1) + "/w"
        XCTAssertThrowsError(try file.kind(of: deep)) { XCTAssertTrue("\($0)".contains("deeper than 64"), "\($0)") }
    }

    /// Groups nest at most `HDF5File.maxDepth` (64) levels: 400 are refused at the 65th, 64 are read.
    func testGroupNestingIsCappedAt64Levels() throws {
        XCTAssertEqual(HDF5File.maxDepth, 64)
        let deep = temporary("deep.h5")
        try HDF5TestFile.nestedGroups(400, at: deep)
        XCTAssertThrowsError(try HDF5TensorContainer(path: deep)) { error in
            XCTAssertEqual((error as? HDF5Error)?.problem, .tooDeep(limit: 64))
            XCTAssertEqual((error as? HDF5Error)?.object, String(repeating: "/g", count: 65))
        }
        let capped = temporary("capped.h5")
        try HDF5TestFile.nestedGroups(64, at: capped)
        let container = try HDF5TensorContainer(path: capped)
        XCTAssertEqual(container.tensors.map(\.name), [Array(repeating: "g", count: 64).joined(separator: ".") + ".w"])
        XCTAssertEqual(container.tensors.first?.values, [1, 2, 3, 4])
        let objects = try HDF5File(path: capped).walk()
        XCTAssertEqual(objects.count, 65)
        XCTAssertEqual(objects.last?.kind, .dataset)
        XCTAssertEqual(objects.last?.components.count, 65)
    }

    /// 50,000 datasets in one old-style group: the walk lists each once, in name order, with its info, and the
    /// container reads them all (each group is listed in one pass; before, every name was fetched by index, which
    /// walks the group's B-tree again each time).
    func testFiftyThousandDatasetsAreWalkedOnceEachInOrder() throws {
        let path = temporary("many.h5")
        let count = 50_000
        try HDF5TestFile.flatDatasets(count, at: path)
        let file = try HDF5File(path: path)
        let objects = try file.walk()
        XCTAssertEqual(objects.count, count)
        XCTAssertEqual(objects.map(\.path), (0..<count).map { "/t" + String(format: "%06d", $0) })
        XCTAssertTrue(objects.allSatisfy { $0.kind == .dataset && $0.dataset?.shape == [4] })
        XCTAssertEqual(try file.children(of: "/").count, count)
        let container = try HDF5TensorContainer(file: file)
        XCTAssertEqual(container.tensors.count, count)
        XCTAssertEqual(container.tensors[12_345].values, [12_345, 0, 0, 0])
        XCTAssertEqual(try file.floats(objects[49_999]).values, [49_999, 0, 0, 0])
    }

    /// Three deflate-compressed GiB of zeros (a 3 MB file, each dataset within the per-tensor limits) used to be
    /// inflated into 3.2 GB of memory. Their declared sizes are summed before any is read and bounded by
    /// `DecodeBudget` (8 × the file size + 256 MB), for containers and Keras files alike.
    func testCompressedZerosBeyondTheDecodeBudgetAreRefusedBeforeInflating() throws {
        for keras in [false, true] {
            let path = temporary(keras ? "bomb-keras.h5" : "bomb.h5")
            try HDF5TestFile.compressedZeros(datasets: 3, elements: 1 << 28, keras: keras, at: path)
            let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
            XCTAssertLessThan(size, 8 << 20)
            let file = try HDF5File(path: path)
            let read: () throws -> Void = keras ? { _ = try TFCheckpoint(path: path) } : { _ = try HDF5TensorContainer(file: file) }
            XCTAssertThrowsError(try read(), "keras: \(keras)") { error in
                guard case let .decodeBudget(declared, fileBytes, limit)? = (error as? HDF5Error)?.problem else {
                    return XCTFail("\(error)")
                }
                XCTAssertEqual(declared, 3 << 30)
                XCTAssertEqual(fileBytes, UInt64(size))
                XCTAssertEqual(limit, DecodeBudget.limit(fileBytes: UInt64(size)))
                XCTAssertTrue("\(error)".contains("refused before decompressing"), "\(error)")
            }
        }
        XCTAssertEqual(DecodeBudget.limit(fileBytes: 1_000_000), 264_000_000)
        XCTAssertEqual(DecodeBudget.limit(fileBytes: .max), .max)
    }
}
