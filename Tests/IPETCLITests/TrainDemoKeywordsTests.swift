import Foundation
import IPETFormats
import IPETTestSupport
import XCTest

/// `ipet train` learns: an IPET pack on the demo's tiny AST, trained on 10 held-out clips of each of the ten keywords
/// (voices the backbone never heard), must recognise the other 5 clips of each word far above chance, and `ipet eval`
/// must measure on them the validation accuracy the run recorded.
final class TrainDemoKeywordsTests: XCTestCase {
    func testFiveEpochsOnTenClipsPerWordReachSeventyPercentOnUnseenClips() throws {
        let dir = Fixtures.temporaryDirectory("train-keywords")
        try DemoClassFolders.add(DemoClassFolders.keywords, clips: 1...10, as: "data", in: dir)
        try DemoClassFolders.add(DemoClassFolders.keywords, clips: 11...15, as: "val", in: dir)
        let backbone = Fixtures.path("demo/backbone")
        // The demo's keyword recipe (tools/make_demo.py: lr 1e-2, the backbone's statistics), fewer epochs and a
        // smaller batch for 100 clips. Measured: validation accuracy 0.68, 0.74, 0.76, 0.78, 0.78 over the epochs.
        let train = try CommandRunner.run(["train", "--backbone", backbone, "--data", "data", "--val-data", "val", "--epochs", "5",
                                           "--batch-size", "16", "--lr", "1e-2", "--stats", "backbone", "--threads", "2",
                                           "--out", "kw.ipet"], directory: dir)
        XCTAssertEqual(train.status, 0, train.stderr)
        let meta = try SafeTensorsFile(path: dir.appendingPathComponent("kw.ipet").path).metadata
        let provenance = try JSONParser.parse(try XCTUnwrap(meta.first { $0.key == "ipet.provenance" }?.value))
        let recorded = try XCTUnwrap(provenance["metrics"]?["val_accuracy"]?.double)
        XCTAssertGreaterThanOrEqual(recorded, 0.7, "chance is 0.1\n" + train.stderr)

        let eval = try CommandRunner.run(["eval", "--backbone", backbone, "--pack", "kw.ipet", "--json", "--quiet", "val"], directory: dir)
        XCTAssertEqual(eval.status, 0, eval.stderr)
        let report = try JSONParser.parse(try XCTUnwrap(eval.stdout.split(separator: "\n").last.map(String.init)))
        XCTAssertEqual(report["files"]?.int, 50)
        XCTAssertEqual(try XCTUnwrap(report["accuracy"]?.double), recorded, accuracy: 1e-9, "eval and the training run disagree")
    }
}
