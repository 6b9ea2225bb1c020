import Foundation

/// Training data for `ipet train` tests: copies of the demo's held-out keyword clips (Fixtures/demo/heldout/keywords,
/// 1 s FLAC), laid out as a folder with one sub-folder per class.
public enum DemoClassFolders {
    /// A temporary folder holding `data/<class>/<class>_NN.flac` for NN = 01…`count` (at most 15) of each keyword.
    public static func make(_ classes: [String] = ["no", "stop", "yes"], count: Int = 8) throws -> URL {
        let dir = Fixtures.temporaryDirectory("train-data")
        try add(classes, clips: 1...count, as: "data", in: dir)
        return dir
    }

    /// All ten keywords of the demo.
    public static let keywords = ["down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes"]

    /// Copies clips `clips` (1…15) of each class into `dir/name/<class>/` (e.g. a validation folder beside `data`).
    public static func add(_ classes: [String], clips: ClosedRange<Int>, as name: String, in dir: URL) throws {
        for c in classes {
            let folder = dir.appendingPathComponent("\(name)/\(c)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for i in clips {
                let file = String(format: "%@_%02d.flac", c, i)
                try FileManager.default.copyItem(atPath: Fixtures.path("demo/heldout/keywords/\(file)"), toPath: folder.appendingPathComponent(file).path)
            }
        }
    }
}
