import Foundation
import IPETFormats
import IPETTestSupport
import XCTest

/// The legacy `torch.save` layout (before PyTorch 1.6), read by the same restricted machine (`Formats/pytorch.md`):
/// files written byte by byte by `LegacyTorchFile` as `torch.serialization._legacy_save` does, and their malformed
/// variants, each refused by name before anything is allocated from a declared size.
final class TorchLegacyTests: XCTestCase {
    private func read(_ bytes: [UInt8]) throws -> TorchCheckpoint { try TorchCheckpoint.read(bytes) }

    private func tinyAST() throws -> (SafeTensorsFile, LegacyTorchFile) {
        let original = try Fixtures.safetensors("ast/tiny-a/model.safetensors")
        let tensors = original.tensors.map { info in
            LegacyTorchFile.Tensor(name: info.name, dtype: info.dtype, shape: info.shape, data: Array(original.rawBytes(info)))
        }
        return (original, LegacyTorchFile(tensors: tensors))
    }

    func testLegacyFileEqualsTheSafetensorsOriginal() throws {
        let (original, legacy) = try tinyAST()
        var file = legacy
        file.tensors.append(.init(name: "position_ids", dtype: .i64, shape: [1, 3], data: (0..<3).flatMap { (i: Int64) in
            withUnsafeBytes(of: i.littleEndian, Array.init)
        }))
        let checkpoint = try read(file.bytes)
        XCTAssertTrue(checkpoint.isLegacy)
        XCTAssertEqual(checkpoint.tensorNames, original.tensorNames + ["position_ids"])
        for info in original.tensors {
            let t = try XCTUnwrap(checkpoint.info(info.name))
            XCTAssertEqual(t.shape, info.shape, info.name)
            XCTAssertEqual(Array(try checkpoint.rawBytes(t)), Array(original.rawBytes(info)), info.name)
            XCTAssertEqual(try checkpoint.floats(info.name), try original.floats(info.name), info.name)
        }
        let ids = try XCTUnwrap(checkpoint.info("position_ids"))
        XCTAssertEqual(ids.dtype, .i64)
        XCTAssertEqual(Array(try checkpoint.rawBytes(ids)), Array(file.tensors.last!.data))
    }

    /// Every part of the layout is checked: the protocol version, the byte order, the persistent ids (no storage
    /// views), the key list against the declared storages, each element count against its persistent id and the bytes
    /// that remain, and the end of the file.
    func testLegacyLayoutViolationsAreRefusedByName() throws {
        let good = LegacyTorchFile(tensors: [.init(name: "w", shape: [2, 2], floats: [1, 2, 3, 4]), .init(name: "b", shape: [2], floats: [5, 6])])
        XCTAssertEqual(try read(good.bytes).floats("b"), [5, 6])
        func variant(_ change: (inout LegacyTorchFile) -> Void) -> [UInt8] {
            var file = good
            change(&file)
            return file.bytes
        }
        let cases: [(String, [UInt8], String)] = [
            ("protocol version", variant { $0.protocolVersion = 1000 }, "protocol version 1000 is not 1001"),
            ("big endian", variant { $0.littleEndian = false }, "saved on a big-endian machine"),
            ("storage view", variant { $0.viewMetadata = true }, "a storage view (legacy view_metadata"),
            ("listed twice", variant { $0.listedKeys = ["0", "1", "0"] }, "storage 0 is listed twice"),
            ("undeclared", variant { $0.listedKeys = ["0", "1", "7"] }, "storage 7 is listed but no persistent id declares it"),
            ("unlisted", variant { $0.listedKeys = ["0"] }, "tensor \"b\": legacy torch.save format (before PyTorch 1.6): its storage 1 is not in the storage-key list"),
            ("count", variant { $0.countDelta = 1 }, "storage 0 holds 5 elements at byte"),
            ("huge count", variant { $0.countDelta = 1 << 62 }, "holds 4611686018427387908 elements at byte"),
            ("truncated", Array(good.bytes.dropLast()), "storage 1: 8 bytes from byte"),
            ("trailing", good.bytes + [0], "1 byte follows the last storage"),
            ("cut in a pickle", Array(good.bytes.prefix(60)), "system-information pickle at byte"),
        ]
        for (label, bytes, message) in cases {
            XCTAssertThrowsError(try read(bytes), label) { error in
                XCTAssertTrue("\(error)".contains(message), "\(label): \(error)")
                XCTAssertTrue("\(error)".hasPrefix("<memory>: "), "\(label): \(error)")
            }
        }
    }

    /// The object pickle of a legacy file is read by the same allowlist: a global outside it is refused by name.
    func testLegacyObjectPickleIsRestrictedLikeZipOnes() throws {
        var bytes = LegacyTorchFile(tensors: [.init(name: "w", shape: [1], floats: [1])]).bytes
        let rebuild = Array("torch._utils\n_rebuild_tensor_v2\n".utf8)
        let evil = Array("posix\nsystem\n".utf8)
        let at = try XCTUnwrap((0...(bytes.count - rebuild.count)).first { bytes[$0..<($0 + rebuild.count)].elementsEqual(rebuild) })
        bytes.replaceSubrange(at..<(at + rebuild.count), with: evil)
        XCTAssertThrowsError(try read(bytes)) { error in
            XCTAssertTrue("\(error)".contains("object pickle at byte") && "\(error)".contains("forbidden global posix.system"), "\(error)")
        }
    }
}
