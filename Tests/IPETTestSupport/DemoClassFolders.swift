import Foundation

/// Training data for `ipet train` tests: copies of the demo's held-out keyword clips (Fixtures/demo/heldout/keywords,
/// 1 s FLAC), laid out as a folder with one sub-folder per class.
public enum DemoClassFolders {
    /// A temporary folder holding `data/<class>/<class>_NN.flac` for NN = 01…`count` (at most 15) of each keyword.
    public static func make(_ classes: [String] = ["no", "stop", "yes"], count: Int = 8) throws -> URL {
        let dir = Fixtures.temporaryDirectory("train-data")
        for c in classes {
            let folder = dir.appendingPathComponent("data/\(c)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for i in 1...count {
                let name = String(format: "%@_%02d.flac", c, i)
                try FileManager.default.copyItem(atPath: Fixtures.path("demo/heldout/keywords/\(name)"), toPath: folder.appendingPathComponent(name).path)
            }
        }
        return dir
    }
}
