import Foundation

/// Where records go: standard output or a file, one complete line per write so a killed run never leaves a
/// torn line behind (each line is written with a single write call and flushed).
final class OutputSink {
    private let handle: FileHandle
    private let closeAtEnd: Bool

    init(path: String?, append: Bool = false) throws {
        if let path, path != "-" {
            if !append || !FileManager.default.fileExists(atPath: path) {
                guard FileManager.default.createFile(atPath: path, contents: nil) else {
                    throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
                }
            }
            handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            if append { try handle.seekToEnd() }
            closeAtEnd = true
        } else {
            handle = FileHandle.standardOutput
            closeAtEnd = false
        }
    }

    func writeLine(_ line: String) {
        write(line + "\n")
    }

    /// Writes `text` with one write call (whole records at once), unbuffered.
    func write(_ text: String) {
        guard !text.isEmpty else { return }
        handle.write(Data(text.utf8))
    }

    deinit {
        if closeAtEnd { try? handle.close() }
    }
}

/// Strips a leading "path: " from an error description when the record already names the file.
func problemText(_ error: Error, path: String) -> String {
    let text = "\(error)"
    return text.hasPrefix(path + ": ") ? String(text.dropFirst(path.count + 2)) : text
}
