import Foundation
import IPETEngine
import IPETTestSupport
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// A training folder is read whole or refused: no class folder, audio file or link is skipped without a word
/// (a class folder named in Latin-1 used to vanish, and the run reported 15 files in 3 classes instead of 20 in 4).
final class TrainingSetFolderTests: XCTestCase {
    private let clip = Fixtures.path("demo/clips/keywords/down.flac")

    /// `data/<class>/x.flac` for each class, in a fresh folder.
    private func data(_ classes: [String]) throws -> String {
        let root = Fixtures.temporaryDirectory("training-set").appendingPathComponent("data").path
        for name in classes {
            let folder = root + "/" + name
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: clip, toPath: folder + "/x.flac")
        }
        return root
    }

    func testEveryClassFolderIsRead() throws {
        let root = try data(["a", "b", "c"])
        try Data("notes".utf8).write(to: URL(fileURLWithPath: root + "/README.txt"))  // not audio: fine
        let set = try TrainingSet.folder(root)
        XCTAssertEqual(set.classes, ["a", "b", "c"])
        XCTAssertEqual(set.items.count, 3)
    }

    func testAClassFolderWhoseNameIsNotUTF8IsRefused() throws {
        let root = try data(["a", "b"])
        let latin1 = Array(root.utf8) + Array("/b".utf8) + [0xFF]
        XCTAssertEqual(mkdir(latin1.map { CChar(bitPattern: $0) } + [0], 0o755), 0)
        XCTAssertThrowsError(try TrainingSet.folder(root)) { error in
            XCTAssertTrue("\(error)".contains("must be UTF-8") && "\(error)".contains(root), "\(error)")
        }
    }

    func testAudioBesideTheClassFoldersIsRefused() throws {
        let root = try data(["a", "b"])
        try FileManager.default.copyItem(atPath: clip, toPath: root + "/loose.flac")
        XCTAssertThrowsError(try TrainingSet.folder(root)) { error in
            XCTAssertTrue("\(error)".contains("loose.flac") && "\(error)".contains("outside the class sub-folders"), "\(error)")
        }
    }

    func testALinkToAMissingClassFolderIsRefused() throws {
        let root = try data(["a", "b"])
        try FileManager.default.createSymbolicLink(atPath: root + "/c", withDestinationPath: root + "/../nowhere")
        XCTAssertThrowsError(try TrainingSet.folder(root)) { error in
            XCTAssertTrue("\(error)".contains("missing class folders: c"), "\(error)")
        }
    }
}
