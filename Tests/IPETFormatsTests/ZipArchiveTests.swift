import Foundation
import IPETFormats
import IPETTestSupport
import XCTest

/// The read-only zip reader: archives written by torch.save (ZIP64) and by Python's zipfile, archives built here
/// byte by byte, and truncated or garbled copies, which must all fail with an error naming the file.
final class ZipArchiveTests: XCTestCase {
    private func fixtureBytes(_ relative: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path(relative))))
    }

    private func open(_ bytes: [UInt8]) throws -> ZipArchive {
        let box = TorchTestBytes(bytes)
        let archive = try ZipArchive(bytes: box.buffer, path: "<memory>", owner: box)
        return archive
    }

    private func zipProblem(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> ZipError.Problem? {
        do {
            _ = try open(bytes)
            XCTFail("archive was accepted", file: file, line: line)
            return nil
        } catch let error as ZipError {
            XCTAssertTrue(error.description.hasPrefix("<memory>: "), error.description, file: file, line: line)
            return error.problem
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
            return nil
        }
    }

    func testReadsTorchSaveArchive() throws {
        let archive = try ZipArchive(path: Fixtures.path("torch/gn-postln.bin"))
        XCTAssertTrue(archive.isZip64)
        XCTAssertTrue(archive.names.contains("gn-postln/data.pkl"))
        XCTAssertTrue(archive.names.contains("gn-postln/data/0"))
        XCTAssertEqual(Array(try archive.storedBytes(named: "gn-postln/byteorder")), Array("little".utf8))
        XCTAssertTrue(archive.entries.allSatisfy(\.isStored))
        // torch.save records real CRCs by default.
        for entry in archive.entries { XCTAssertTrue(try archive.crc32Matches(entry), entry.name) }
    }

    func testReadsZipfileArchiveWithoutZip64() throws {
        let archive = try ZipArchive(path: Fixtures.path("torch/malicious/posix_system_in_zip.pth"))
        XCTAssertFalse(archive.isZip64)
        XCTAssertEqual(archive.names, ["archive/data.pkl", "archive/byteorder", "archive/data/0", "archive/version"])
    }

    func testBuiltArchivesRoundTrip() throws {
        for zip64 in [false, true] {
            let bytes = TorchZipBuilder.archive([("a/x", Array("hello".utf8)), ("a/empty", []), ("a/y", [1, 2, 3])], zip64: zip64)
            let archive = try open(bytes)
            XCTAssertEqual(archive.isZip64, zip64)
            XCTAssertEqual(archive.names, ["a/x", "a/empty", "a/y"])
            XCTAssertEqual(Array(try archive.storedBytes(named: "a/x")), Array("hello".utf8))
            XCTAssertEqual(Array(try archive.storedBytes(named: "a/empty")), [])
            XCTAssertEqual(Array(try archive.storedBytes(named: "a/y")), [1, 2, 3])
            XCTAssertThrowsError(try archive.storedBytes(named: "a/z")) { error in
                XCTAssertEqual((error as? ZipError)?.problem, .missingEntry)
            }
        }
    }

    func testCRC32() throws {
        let check = Array("123456789".utf8)
        XCTAssertEqual(check.withUnsafeBytes { ZipArchive.crc32($0) }, 0xCBF4_3926)
        var bytes = TorchZipBuilder.archive([("a/x", Array("hello".utf8))])
        XCTAssertTrue(try open(bytes).crc32Matches(try XCTUnwrap(open(bytes).entry("a/x"))))
        bytes[30 + 3] ^= 1  // first data byte
        let archive = try open(bytes)
        XCTAssertFalse(try archive.crc32Matches(try XCTUnwrap(archive.entry("a/x"))))
    }

    func testTruncatedArchivesAreRefused() throws {
        let bytes = try fixtureBytes("torch/gn-postln.bin")
        XCTAssertEqual(zipProblem(Array(bytes.dropLast())), .noEndOfCentralDirectory)
        XCTAssertEqual(zipProblem(Array(bytes.prefix(21))), .tooSmall(fileLength: 21))
        for cut in [bytes.count - 23, bytes.count - 100, bytes.count / 2, 1000, 64, 30] {
            XCTAssertNotNil(zipProblem(Array(bytes.prefix(cut))), "cut at \(cut)")
            XCTAssertThrowsError(try TorchCheckpoint.read(Array(bytes.prefix(cut)))) { error in
                XCTAssertTrue("\(error)".hasPrefix("<memory>: "), "\(error)")
            }
        }
        // Cutting out the middle moves the central directory away from where the records say it is.
        var spliced = bytes
        spliced.removeSubrange(5000..<6000)
        XCTAssertNotNil(zipProblem(spliced))
    }

    func testGarbledDirectoriesAreRefused() throws {
        let good = TorchZipBuilder.archive([("a/x", [1, 2, 3, 4]), ("a/y", [5, 6])])
        let eocd = good.count - 22

        var offset = good
        offset[eocd + 16] &+= 1  // central directory offset
        guard case .invalidCentralDirectory? = zipProblem(offset) else { return XCTFail("moved directory") }

        var count = good
        count[eocd + 8] = 0xFE
        count[eocd + 9] = 0x7F
        count[eocd + 10] = 0xFE
        count[eocd + 11] = 0x7F
        guard case let .invalidCentralDirectory(why)? = zipProblem(count) else { return XCTFail("absurd count") }
        XCTAssertTrue(why.contains("32766 entries cannot fit"), why)

        var comment = good
        comment[eocd + 20] = 5  // comment length that the file does not have
        XCTAssertEqual(zipProblem(comment), .noEndOfCentralDirectory)

        var disk = good
        disk[eocd + 4] = 1
        XCTAssertEqual(zipProblem(disk), .multiDisk)

        XCTAssertEqual(zipProblem(TorchZipBuilder.archive([("a/x", [1]), ("a/x", [2])])), .duplicateName)
        XCTAssertEqual(zipProblem(TorchZipBuilder.build([.init(name: "a/x", data: [1], flags: 0x0801)])), .encrypted)
        guard case .invalidEntry? = zipProblem(TorchZipBuilder.build([.init(name: "a/x", data: [1], localName: "a/z")])) else {
            return XCTFail("local header name")
        }
        guard case .invalidEntry? = zipProblem(TorchZipBuilder.build([.init(name: "", data: [1])])) else {
            return XCTFail("empty name")
        }
        guard case .invalidEntry? = zipProblem(TorchZipBuilder.build([.init(nameBytes: [0x61, 0xFF], data: [1])])) else {
            return XCTFail("non-UTF-8 name")
        }
        // A stored entry whose declared size reaches into the next entry's local header.
        guard case .overlapping(other: "a/x")? = zipProblem(
            TorchZipBuilder.build([.init(name: "a/x", data: [1, 2], declaredSize: 20), .init(name: "a/y", data: [3])]))
        else { return XCTFail("overlap") }
        // Or past the central directory.
        guard case .outOfBounds? = zipProblem(TorchZipBuilder.build([.init(name: "a/x", data: [1, 2], declaredSize: 0xFFFF_FF00)]))
        else { return XCTFail("size past the directory") }
        guard case .invalidEntry? = zipProblem(TorchZipBuilder.build([.init(name: "a/x", data: [1, 2], method: 0, declaredSize: 2, uncompressedSize: 9)]))
        else { return XCTFail("stored sizes disagree") }
    }

    func testZip64RecordsAreChecked() throws {
        let good = TorchZipBuilder.archive([("a/x", [1, 2, 3])], zip64: true)
        let locator = good.count - 22 - 20
        var moved = good
        moved[locator + 8] &+= 3  // record offset
        guard case .invalidZip64? = zipProblem(moved) else { return XCTFail("record offset") }
        var far = good
        far[locator + 15] = 0x7F  // record offset far beyond the file
        guard case .invalidZip64? = zipProblem(far) else { return XCTFail("record offset beyond the file") }
        var disagree = good
        disagree[good.count - 22 + 10] = 2  // EOCD total (not saturated) disagrees with the ZIP64 record
        disagree[good.count - 22 + 11] = 0
        disagree[good.count - 22 + 8] = 2
        disagree[good.count - 22 + 9] = 0
        guard case .invalidZip64? = zipProblem(disagree) else { return XCTFail("disagreeing counts") }
    }

    func testCompressedEntriesAreListedButNotRead() throws {
        let bytes = TorchZipBuilder.build([.init(name: "ck/data.pkl", data: [0x03, 0x00], method: 8, uncompressedSize: 1)])
        let archive = try open(bytes)
        XCTAssertThrowsError(try archive.storedBytes(named: "ck/data.pkl")) { error in
            XCTAssertEqual((error as? ZipError)?.problem, .compressed(method: 8))
        }
        XCTAssertThrowsError(try TorchCheckpoint.read(bytes)) { error in
            XCTAssertTrue("\(error)".contains("zip entry \"ck/data.pkl\": entry is compressed (method 8)"), "\(error)")
        }
    }

    func testArchivesThatAreNotCheckpoints() throws {
        XCTAssertThrowsError(try TorchCheckpoint.read(TorchZipBuilder.archive([("a/b/data.pkl", [0x2E])]))) { error in
            XCTAssertEqual((error as? TorchCheckpointError)?.problem, .noDataPickle)
        }
        XCTAssertThrowsError(try TorchCheckpoint.read(TorchZipBuilder.archive([("a/data.pkl", [0x2E]), ("b/data.pkl", [0x2E])]))) {
            error in
            XCTAssertEqual((error as? TorchCheckpointError)?.problem, .ambiguousDataPickle(["a/data.pkl", "b/data.pkl"]))
        }
        XCTAssertThrowsError(try TorchCheckpoint.read(TorchZipBuilder.archive([("a/data.pkl", [0x2E]), ("a/byteorder", Array("big".utf8))]))) {
            error in
            XCTAssertEqual((error as? TorchCheckpointError)?.problem, .bigEndian)
        }
    }
}

/// Writes small zip archives byte by byte, including deliberately inconsistent ones.
enum TorchZipBuilder {
    struct Entry {
        var nameBytes: [UInt8]
        var data: [UInt8]
        var method: UInt16 = 0
        var flags: UInt16 = 0x0800
        /// Compressed size written to the central directory instead of the real one.
        var declaredSize: UInt32?
        var uncompressedSize: UInt32?
        /// Name written to the local header instead of the real one.
        var localName: String?

        init(name: String, data: [UInt8], method: UInt16 = 0, flags: UInt16 = 0x0800, declaredSize: UInt32? = nil,
             uncompressedSize: UInt32? = nil, localName: String? = nil) {
            self.init(nameBytes: Array(name.utf8), data: data, method: method, flags: flags, declaredSize: declaredSize,
                      uncompressedSize: uncompressedSize, localName: localName)
        }

        init(nameBytes: [UInt8], data: [UInt8], method: UInt16 = 0, flags: UInt16 = 0x0800, declaredSize: UInt32? = nil,
             uncompressedSize: UInt32? = nil, localName: String? = nil) {
            self.nameBytes = nameBytes
            self.data = data
            self.method = method
            self.flags = flags
            self.declaredSize = declaredSize
            self.uncompressedSize = uncompressedSize
            self.localName = localName
        }
    }

    static func archive(_ files: [(String, [UInt8])], zip64: Bool = false) -> [UInt8] {
        build(files.map { Entry(name: $0.0, data: $0.1) }, zip64: zip64)
    }

    static func build(_ entries: [Entry], zip64: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        func u16(_ v: UInt16) { out += [UInt8(v & 0xFF), UInt8(v >> 8)] }
        func u32(_ v: UInt32) { for i in 0..<4 { out.append(UInt8((v >> (8 * i)) & 0xFF)) } }
        func u64(_ v: UInt64) { for i in 0..<8 { out.append(UInt8((v >> (8 * UInt64(i))) & 0xFF)) } }
        var offsets: [UInt32] = []
        for e in entries {
            offsets.append(UInt32(out.count))
            let crc = e.data.withUnsafeBytes { ZipArchive.crc32($0) }
            let localName = e.localName.map { Array($0.utf8) } ?? e.nameBytes
            u32(0x0403_4B50); u16(20); u16(e.flags); u16(e.method); u16(0); u16(0)
            u32(crc); u32(UInt32(e.data.count)); u32(e.uncompressedSize ?? UInt32(e.data.count))
            u16(UInt16(localName.count)); u16(0)
            out += localName
            out += e.data
        }
        let cdOffset = out.count
        for (e, local) in zip(entries, offsets) {
            let crc = e.data.withUnsafeBytes { ZipArchive.crc32($0) }
            u32(0x0201_4B50); u16(20); u16(20); u16(e.flags); u16(e.method); u16(0); u16(0)
            u32(crc); u32(e.declaredSize ?? UInt32(e.data.count))
            u32(e.uncompressedSize ?? e.declaredSize ?? UInt32(e.data.count))
            u16(UInt16(e.nameBytes.count)); u16(0); u16(0); u16(0); u16(0); u32(0); u32(local)
            out += e.nameBytes
        }
        let cdSize = out.count - cdOffset
        if zip64 {
            let record = out.count
            u32(0x0606_4B50); u64(44); u16(45); u16(45); u32(0); u32(0)
            u64(UInt64(entries.count)); u64(UInt64(entries.count)); u64(UInt64(cdSize)); u64(UInt64(cdOffset))
            u32(0x0706_4B50); u32(0); u64(UInt64(record)); u32(1)
            u32(0x0605_4B50); u16(0); u16(0); u16(0xFFFF); u16(0xFFFF); u32(0xFFFF_FFFF); u32(0xFFFF_FFFF); u16(0)
        } else {
            u32(0x0605_4B50); u16(0); u16(0); u16(UInt16(entries.count)); u16(UInt16(entries.count))
            u32(UInt32(cdSize)); u32(UInt32(cdOffset)); u16(0)
        }
        return out
    }
}
