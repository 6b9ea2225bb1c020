import Foundation
import IPETFormats
import IPETTestSupport
import XCTest

/// The generic HDF5 reader against files written by h5py (Fixtures/tf/hdf5, made by tools/make_tf_fixtures.py),
/// and the tensor container (write → read round trips, files written by other tooling).
final class HDF5Tests: XCTestCase {
    private func json(_ relative: String) throws -> JSONValue { try JSONFile.read(Fixtures.path(relative)) }

    private func floats(_ values: [JSONValue]) -> [Float] {
        values.map { v in v.string.map { $0 == "inf" ? Float.infinity : -Float.infinity } ?? Float(v.double!) }
    }

    // MARK: generic reader

    /// Failures libhdf5 reports (here: a missing object, which `kind(of:)` turns into nil) print nothing on any
    /// thread. A thread-safe libhdf5 keeps its print-errors setting per thread: switched off only on the first
    /// thread that used the library, every other thread printed a five-frame HDF5-DIAG trace to stderr.
    func testLibraryErrorsPrintNothingOnOtherThreads() throws {
        let file = try HDF5File(path: Fixtures.path("tf/gn-postln/tf_model.h5"))
        let printed = try StandardErrorCapture.text {
            for _ in 0..<3 {
                let done = DispatchSemaphore(value: 0)
                let thread = Thread {
                    XCTAssertNil(try? file.kind(of: "/no-such-object"))
                    done.signal()
                }
                thread.start()
                done.wait()
            }
        }
        XCTAssertFalse(printed.contains("HDF5"), printed)
    }

    /// libhdf5 1.10.8 segfaults when an old-style group's B-tree, symbol-table node or heap address is the undefined
    /// address (a bug hunt found 147 such sites in tf_model.h5): the pre-check refuses each kind by name first.
    func testUndefinedGroupAddressesAreRefusedBeforeLibhdf5FollowsThem() throws {
        let original = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("tf/gn-postln/tf_model.h5")))
        let bytes = [UInt8](original)
        func find(_ pattern: [UInt8]) -> Int? {
            (0..<(bytes.count - pattern.count)).first { i in bytes[i..<(i + pattern.count)].elementsEqual(pattern) }
        }
        // A symbol-table message's B-tree address, the first SNOD entry's object header, a TREE node's first child.
        let symbolTable = try XCTUnwrap(find([0x11, 0x00, 0x10, 0x00, 0x01, 0, 0, 0]) ?? find([0x11, 0x00, 0x10, 0x00, 0x00, 0, 0, 0]))
        let snod = try XCTUnwrap(find(Array("SNOD".utf8)))
        let tree = try XCTUnwrap(find(Array("TREE".utf8) + [0]))
        for (offset, expected) in [(symbolTable + 8, "symbol-table message"), (snod + 16, "symbol table node"), (tree + 32, "group B-tree node")] {
            var mutated = bytes
            for i in 0..<8 { mutated[offset + i] = 0xFF }
            let path = Fixtures.temporaryDirectory("hdf5").appendingPathComponent("u.h5").path
            try Data(mutated).write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try HDF5File(path: path), expected) { error in
                XCTAssertTrue("\(error)".contains(expected) && "\(error)".contains("outside the file"), "\(error)")
            }
        }
        XCTAssertNoThrow(try HDF5File(path: Fixtures.path("tf/gn-postln/tf_model.h5")))
    }

    func testReadsFloatDatasetsOfEveryWidthExactly() throws {
        let file = try HDF5File(path: Fixtures.path("tf/hdf5/dtypes.h5"))
        let expected = try json("tf/hdf5/dtypes.json")["datasets"]!.object!
        for (name, entry) in expected {
            let (info, values) = try file.floats("/" + name)
            XCTAssertEqual(info.shape, entry["shape"]!.array!.map { $0.int! }, name)
            if let list = entry["values"]?.array {
                // float16 widens exactly; float64 rounds to the nearest float32 (listed rounded by numpy).
                XCTAssertEqual(values, floats(list), name)
            } else {
                XCTAssertEqual(Array(values.prefix(4)), floats(entry["first"]!.array!), name)
                let sum = values.reduce(0.0) { $0 + Double($1) }
                XCTAssertEqual(sum, entry["values_sum"]!.double!, accuracy: 1e-9, name)
                XCTAssertTrue(info.isChunked, name)
                XCTAssertEqual(info.filterCount, 2, name)  // shuffle + deflate, decoded by libhdf5
            }
        }
        XCTAssertEqual(try file.datasetInfo("/f16").elementType, .float(.f16))
        XCTAssertEqual(try file.datasetInfo("/f64").elementType, .float(.f64))
        XCTAssertEqual(try file.datasetInfo("/f32_big_endian").elementType, .float(.f32))
    }

    func testRefusesNonFloatDatasetsByTheirType() throws {
        let file = try HDF5File(path: Fixtures.path("tf/hdf5/dtypes.h5"))
        for (name, keyword) in try json("tf/hdf5/dtypes.json")["non_float"]!.object! {
            XCTAssertThrowsError(try file.floats("/" + name), name) { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains(keyword.string!) && text.contains("dtypes.h5") && text.contains("/\(name)"), text)
            }
        }
        XCTAssertEqual(try file.datasetInfo("/int32").elementType, .integer(bits: 32, signed: true))
        XCTAssertEqual(try file.datasetInfo("/uint8").elementType, .integer(bits: 8, signed: false))
    }

    func testReadsStringAttributesAsH5pyAndKerasWriteThem() throws {
        let file = try HDF5File(path: Fixtures.path("tf/hdf5/dtypes.h5"))
        for (name, values) in try json("tf/hdf5/dtypes.json")["attributes"]!.object! {
            XCTAssertEqual(try file.strings(attribute: name, of: "/"), values.array!.map { $0.string! }, name)
        }
        XCTAssertNil(try file.strings(attribute: "absent", of: "/"))
        XCTAssertEqual(try file.strings(attribute: "inner", of: "/nested/a"), ["deep"])
        for name in try json("tf/hdf5/dtypes.json")["non_string_attributes"]!.array! {
            XCTAssertThrowsError(try file.strings(attribute: name.string!, of: "/")) { error in
                XCTAssertTrue("\(error)".contains("expected strings"), "\(error)")
            }
        }
        XCTAssertTrue(try file.hasAttribute("fixed_scalar", of: "/"))
        XCTAssertFalse(try file.hasAttribute("nope", of: "/"))
    }

    /// Variable-length strings are read from the global heap by our own bounds-checked reader; its addresses are
    /// relative to the superblock, which a user block moves.
    func testReadsVariableLengthStringsBehindAUserBlock() throws {
        let file = try HDF5File(path: Fixtures.path("tf/hdf5/userblock.h5"))
        XCTAssertEqual(try file.strings(attribute: "layer_names", of: "/"), ["wav2vec2", "classifier"])
        XCTAssertEqual(try file.strings(attribute: "note", of: "/"), ["user block \u{2713}"])
        XCTAssertEqual(try file.floats("/x").values, [0, 1, 2, 3, 4, 5])
    }

    func testWalksGroups() throws {
        let file = try HDF5File(path: Fixtures.path("tf/hdf5/dtypes.h5"))
        let expected = try json("tf/hdf5/dtypes.json")["groups"]!
        XCTAssertEqual(try file.children(of: "/"), expected["/"]!.array!.map { $0.string! })
        XCTAssertEqual(try file.children(of: "/nested/a"), ["b"])
        XCTAssertEqual(try file.kind(of: "/nested/a/b"), .group)
        XCTAssertEqual(try file.kind(of: "/nested/a/b/chunked_gzip"), .dataset)
        XCTAssertNil(try file.kind(of: "/nested/zzz/deeper"))
        XCTAssertThrowsError(try file.floats("/nested")) { XCTAssertTrue("\($0)".contains("not a dataset"), "\($0)") }
        XCTAssertThrowsError(try file.floats("/missing/x")) { XCTAssertTrue("\($0)".contains("no such object"), "\($0)") }
        XCTAssertThrowsError(try file.children(of: "/f32")) { XCTAssertTrue("\($0)".contains("not a group"), "\($0)") }
    }

    func testOpeningNonHDF5AndMissingFilesFailsClearly() {
        XCTAssertThrowsError(try HDF5File(path: Fixtures.path("tf/malformed/not_hdf5.h5"))) { error in
            XCTAssertEqual((error as? HDF5Error)?.problem, .notHDF5)
            XCTAssertTrue("\(error)".contains("not_hdf5.h5"), "\(error)")
        }
        XCTAssertThrowsError(try HDF5File(path: Fixtures.path("tf/does-not-exist.h5"))) { error in
            XCTAssertTrue("\(error)".contains("does-not-exist.h5: cannot open"), "\(error)")
        }
        XCTAssertThrowsError(try HDF5File(path: Fixtures.path("tf/malformed/truncated.h5"))) { error in
            XCTAssertTrue("\(error)".contains("truncated"), "\(error)")
        }
    }

    /// Declared sizes are checked before anything is allocated: the 4 TiB dataset of a 16 KB file is refused.
    func testHugeDeclaredDimensionsAreRefusedBeforeAllocation() throws {
        let file = try HDF5File(path: Fixtures.path("tf/malformed/huge_dims.h5"))
        let path = "/wav2vec2/tf_wav2_vec2_model/wav2vec2/feature_projection/projection/kernel:0"
        XCTAssertThrowsError(try file.datasetInfo(path)) { error in
            guard case let .tooLarge(declared, _)? = (error as? HDF5Error)?.problem else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(declared, UInt64(1) << 42)
        }
    }

    /// libhdf5 is serial; concurrent readers must be serialised by the process-wide lock.
    func testConcurrentReadersAgree() throws {
        let path = Fixtures.path("tf/gn-postln/tf_model.h5")
        let reference = try TFCheckpoint(path: path).weights.map(\.values)
        let results = UncheckedBox([[[Float]]?](repeating: nil, count: 8))
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            let values = try? TFCheckpoint(path: path).weights.map(\.values)
            results.lock.lock()
            results.value[i] = values
            results.lock.unlock()
        }
        for r in results.value { XCTAssertEqual(r, reference) }
    }

    // MARK: tensor container

    private func sampleContainer() -> HDF5TensorContainer {
        let q = (0..<24).map { Float($0) * 0.37 - 4 }
        return HDF5TensorContainer(
            metadata: [("format", "pt"), ("config", #"{"model_type": "wav2vec2", "hidden_size": 32}"#),
                       ("ipet.derived_from", #"["sha256:abc"]"#), ("unicode", "caf\u{e9} \u{2713}"),
                       ("long", String(repeating: "x", count: 100_000))],
            tensors: [
                .init(name: "wav2vec2.encoder.layers.0.attention.q_proj.weight", shape: [4, 6], values: q),
                .init(name: "wav2vec2.encoder.pos_conv_embed.conv.weight_g", shape: [1, 1, 3], values: [1, -2, 3.5]),
                .init(name: "scalar", shape: [], values: [.pi]),
                .init(name: "empty", shape: [0, 5], values: []),
                .init(name: "special:0 values", shape: [4], values: [.infinity, -.infinity, -0.0, .leastNormalMagnitude / 8]),
            ])
    }

    func testContainerRoundTripsTensorsAndMetadataInOrder() throws {
        let dir = Fixtures.temporaryDirectory("hdf5-container")
        let path = dir.appendingPathComponent("model.h5").path
        let original = sampleContainer()
        try original.write(to: path)
        let back = try HDF5TensorContainer(path: path)
        XCTAssertEqual(back.metadata.map(\.key), original.metadata.map(\.key))
        XCTAssertEqual(back.metadata.map(\.value), original.metadata.map(\.value))
        XCTAssertEqual(back.tensors.map(\.name), original.tensors.map(\.name))
        for (a, b) in zip(back.tensors, original.tensors) {
            XCTAssertEqual(a.shape, b.shape, a.name)
            XCTAssertEqual(a.values.map(\.bitPattern), b.values.map(\.bitPattern), a.name)
            XCTAssertEqual(a.dtype, .f32, a.name)
        }
        // No timestamps in the file: the same content gives the same bytes.
        let again = dir.appendingPathComponent("again.h5").path
        try original.write(to: again)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), try Data(contentsOf: URL(fileURLWithPath: again)))
        // The marker is on the root but is not metadata.
        let file = try HDF5File(path: path)
        XCTAssertEqual(try file.strings(attribute: HDF5TensorContainer.layoutAttribute, of: "/"), [HDF5TensorContainer.layoutVersion])
        XCTAssertFalse(try TFCheckpoint.isKerasWeights(file))
    }

    func testContainerStoresHalfAndBFloat16RoundedLikeSafetensors() throws {
        let dir = Fixtures.temporaryDirectory("hdf5-container")
        var values: [Float] = (0..<65536).map { sin(Float($0) * 0.01) * 300 }
        values += [65520, 1e-8, 6.1e-5, -0.0, .infinity]  // overflow to inf in F16, subnormals
        let container = HDF5TensorContainer(metadata: [("format", "pt")],
                                            tensors: [.init(name: "w", shape: [values.count], values: values)])
        let f32 = dir.appendingPathComponent("f32.h5").path
        try container.write(to: f32)
        for dtype in [DType.f16, .bf16] {
            let path = dir.appendingPathComponent("\(dtype.rawValue).h5").path
            try container.write(to: path, dtype: dtype)
            let back = try HDF5TensorContainer(path: path)
            let expected = values.map {
                dtype == .f16 ? HalfFloat.float(fromHalfBits: HalfFloat.halfBits(from: $0))
                    : HalfFloat.float(fromBFloat16Bits: HalfFloat.bfloat16Bits(from: $0))
            }
            XCTAssertEqual(back.tensors[0].dtype, dtype)
            XCTAssertEqual(back.tensors[0].values.map(\.bitPattern), expected.map(\.bitPattern), dtype.rawValue)
            let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
            let full = try FileManager.default.attributesOfItem(atPath: f32)[.size] as! Int
            XCTAssertLessThan(Double(size), 0.6 * Double(full), "\(dtype.rawValue): \(size) vs \(full) bytes")
        }
    }

    func testContainerWrittenByH5pyReads() throws {
        let expected = try json("tf/hdf5/container-h5py.json")
        let container = try HDF5TensorContainer(path: Fixtures.path("tf/hdf5/container-h5py.h5"))
        XCTAssertEqual(container.metadata.map(\.key), expected["metadata"]!.array!.map { $0.array![0].string! })
        XCTAssertEqual(container.metadata.map(\.value), expected["metadata"]!.array!.map { $0.array![1].string! })
        let tensors = expected["tensors"]!.array!
        XCTAssertEqual(container.tensors.map(\.name), tensors.map { $0["name"]!.string! })
        for (t, e) in zip(container.tensors, tensors) {
            XCTAssertEqual(t.shape, e["shape"]!.array!.map { $0.int! })
            XCTAssertEqual(t.dtype.rawValue, e["dtype"]!.string!)
            XCTAssertEqual(t.values, floats(e["values"]!.array!), t.name)
        }
    }

    func testContainerWriterRefusesBadInput() throws {
        let path = Fixtures.temporaryDirectory("hdf5-container").appendingPathComponent("bad.h5").path
        let cases: [(HDF5TensorContainer, String)] = [
            (.init(tensors: [.init(name: "a/b", shape: [1], values: [1])]), "no \"/\""),
            (.init(tensors: [.init(name: ".", shape: [1], values: [1])]), "not \".\""),
            (.init(tensors: [.init(name: "a", shape: [1], values: [1]), .init(name: "a", shape: [1], values: [2])]), "twice"),
            (.init(tensors: [.init(name: "a", shape: [2, 2], values: [1])]), "holds 4 values"),
            (.init(tensors: [.init(name: "a", shape: [1], values: [1], dtype: .i32)]), "F32, F16 or BF16"),
            (.init(metadata: [(HDF5TensorContainer.layoutAttribute, "x")]), "metadata keys"),
            (.init(metadata: [("k", "1"), ("k", "2")]), "twice"),
        ]
        for (container, keyword) in cases {
            XCTAssertThrowsError(try container.write(to: path)) { error in
                XCTAssertTrue("\(error)".contains(keyword) && "\(error)".contains("bad.h5"), "\(error)")
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: path))
        }
    }

    func testContainerWriteReplacesAnExistingFileAtomically() throws {
        let path = Fixtures.temporaryDirectory("hdf5-container").appendingPathComponent("m.h5").path
        try sampleContainer().write(to: path)
        let reader = try HDF5File(path: path)  // an open reader keeps the old inode
        try HDF5TensorContainer(metadata: [("v", "2")], tensors: [.init(name: "x", shape: [1], values: [2])]).write(to: path)
        XCTAssertEqual(try reader.strings(attribute: "format", of: "/"), ["pt"])
        XCTAssertEqual(try HDF5TensorContainer(path: path).metadataValue("v"), "2")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: (path as NSString).deletingLastPathComponent)
        XCTAssertEqual(leftovers, ["m.h5"])
    }

    /// The importers' entry point tells Keras files, shard sets and containers apart by content.
    func testCheckpointEntryPointDetectsTheLayout() throws {
        for path in ["tf/gn-postln/tf_model.h5", "tf/gn-postln", "tf/gn-postln-sharded",
                     "tf/gn-postln-sharded/tf_model.h5.index.json", "tf/gn-seqcls-wls-split/tf_model.h5"] {
            guard case let .keras(checkpoint) = try HDF5Checkpoint(path: Fixtures.path(path)) else {
                return XCTFail("\(path) was not read as a Keras checkpoint")
            }
            XCTAssertFalse(checkpoint.weights.isEmpty, path)
        }
        let container = try HDF5Checkpoint(path: Fixtures.path("tf/hdf5/container-h5py.h5"))
        guard case .container = container else { return XCTFail("container-h5py.h5 was not read as a container") }
        XCTAssertEqual(container.metadataValue("format"), "pt")
        XCTAssertEqual(container.tensors.map(\.storedDType), [.f32, .f32, .f16])
        let keras = try HDF5Checkpoint(path: Fixtures.path("tf/gn-postln/tf_model.h5"))
        XCTAssertEqual(keras.tensors.count, 50)
        XCTAssertTrue(keras.metadata.isEmpty)
    }

    func testContainerReaderRefusesKerasFiles() {
        XCTAssertThrowsError(try HDF5TensorContainer(path: Fixtures.path("tf/gn-postln/tf_model.h5"))) { error in
            XCTAssertTrue("\(error)".contains("TensorFlow/Keras weights file"), "\(error)")
        }
    }
}

/// A mutable value shared across `concurrentPerform` iterations, guarded by its lock.
private final class UncheckedBox<T>: @unchecked Sendable {
    var value: T
    let lock = NSLock()
    init(_ value: T) { self.value = value }
}
