import Foundation
import IPETTestSupport
import XCTest

/// `ipet --version` names the release, the commit and every native library the binary linked.
final class VersionTests: XCTestCase {
    func testVersionNamesTheCommitAndEveryLinkedLibrary() throws {
        let result = try CommandRunner.run(["--version"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        let first = try XCTUnwrap(lines.first)
        XCTAssertNotNil(first.range(of: #"^ipet \d+\.\d+\.\d+ \(commit ([0-9a-f]{12}(-dirty)?|unknown)\)$"#, options: .regularExpression), first)
        for library in ["oneDNN", "OpenBLAS", "FFTW", "libsndfile", "soxr", "HDF5", "libcrypto"] {
            let line = lines.first { $0.hasPrefix("  \(library) ") }
            XCTAssertNotNil(line, "\(library) missing: \(result.stdout)")
            XCTAssertNotNil(line?.range(of: #"\d+\.\d+"#, options: .regularExpression), "\(library) without a version: \(line ?? "")")
        }
        XCTAssertTrue(lines.contains { $0.hasPrefix("cpu features: ") }, result.stdout)
    }
}
