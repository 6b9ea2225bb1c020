import Dispatch
import Foundation
import IPETFormats
import IPETTestSupport
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Atomic writers (`AtomicFile`, and `HDF5TensorContainer.write` beside it) when several threads write one target.
///
/// Each writer stages its bytes in a temporary file beside the target and renames it into place. With a temporary
/// name made from the PID alone, two threads shared one staging file: one truncated and renamed the other's bytes,
/// the other's rename then failed ("No such file or directory"), and the writer that reported success could leave
/// the other's content or an empty container in place. Now every write stages in a file of its own.
final class AtomicWriteTests: XCTestCase {
    /// Two threads write different bytes to one path, many times: both succeed every time, the target always holds
    /// exactly one writer's bytes (never a mix, never empty), and no staging file is left behind.
    func testConcurrentWritesToOneTargetNeverMixOrFail() throws {
        let directory = Fixtures.temporaryDirectory("atomic-write")
        let target = directory.appendingPathComponent("out.bin").path
        let contents: [[UInt8]] = [Array(repeating: 0x41, count: 1 << 20), Array(repeating: 0x42, count: 1 << 20)]
        let failures = FailureLog()
        for round in 0..<40 {
            DispatchQueue.concurrentPerform(iterations: 2) { writer in
                do { try AtomicFile.write(contents[writer], to: target) } catch { failures.record("round \(round), writer \(writer): \(error)") }
            }
            let written = [UInt8](try Data(contentsOf: URL(fileURLWithPath: target)))
            if !contents.contains(written) { failures.record("round \(round): the target holds \(written.count) bytes of neither writer") }
            if failures.messages.count > 3 { break }
        }
        XCTAssertEqual(failures.messages, [])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["out.bin"])
    }

    /// The same for HDF5 containers: each concurrent write succeeds and the file read back is one writer's whole
    /// container (its tensor and metadata), never an empty one.
    func testConcurrentHDF5ContainerWritesToOneTargetNeverMixOrFail() throws {
        let directory = Fixtures.temporaryDirectory("atomic-write-h5")
        let target = directory.appendingPathComponent("out.h5").path
        let containers = (0..<2).map { writer in
            HDF5TensorContainer(metadata: [("writer", "\(writer)")],
                                tensors: [.init(name: "t", shape: [64, 64], values: Array(repeating: Float(writer + 1), count: 4096))])
        }
        let failures = FailureLog()
        for round in 0..<25 {
            DispatchQueue.concurrentPerform(iterations: 2) { writer in
                do { try containers[writer].write(to: target) } catch { failures.record("round \(round), writer \(writer): \(error)") }
            }
            do {
                let read = try HDF5TensorContainer(path: target)
                guard let writer = read.metadata.first(where: { $0.key == "writer" }).flatMap({ Int($0.value) }),
                      containers.indices.contains(writer)
                else {
                    failures.record("round \(round): the container read back has no writer metadata (\(read.metadata))")
                    continue
                }
                if read.tensors != containers[writer].tensors { failures.record("round \(round): tensors differ from writer \(writer)'s") }
            } catch {
                failures.record("round \(round): \(error)")
            }
            if failures.messages.count > 3 { break }
        }
        XCTAssertEqual(failures.messages, [])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["out.h5"])
    }

    /// A failed write leaves the old target as it was and no staging file.
    func testFailedWriteLeavesTheOldFileAndNoStagingFile() throws {
        let directory = Fixtures.temporaryDirectory("atomic-write-fail")
        let target = directory.appendingPathComponent("out.bin").path
        try AtomicFile.write(Array("old".utf8), to: target)
        XCTAssertThrowsError(try AtomicFile.write(to: target) { (_) throws(FileError) in
            throw FileError(path: target, reason: "refused by the test")
        })
        XCTAssertEqual(try String(contentsOfFile: target, encoding: .utf8), "old")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["out.bin"])
    }

    /// Staging names differ between calls, even for one target from one thread.
    func testStagingNamesAreFreshPerCall() {
        let names = Set((0..<100).map { _ in AtomicFile.temporaryPath(beside: "/x/out.bin") })
        XCTAssertEqual(names.count, 100)
        XCTAssertTrue(names.allSatisfy { $0.hasPrefix("/x/out.bin.tmp-\(getpid())-") })
    }
}
