import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Checks an output path before anything is written to it: never over one of the command's own inputs (audio,
/// packs, the backbone's files, a trial list or embedding cache), and never by renaming a file over a device,
/// folder or pipe. A symlink is written through: the returned path is its target, so an atomic write replaces
/// the target file and the link stays.
enum OutputGuard {
    /// The path to write (symlinks resolved), after the checks. `inputs` may name files or folders; a folder
    /// protects the files directly inside it (a model folder's weights and config).
    static func check(_ output: String, against inputs: [String], regularFileOnly: Bool = true) throws -> String {
        let resolved = URL(fileURLWithPath: output).resolvingSymlinksInPath().path
        var info = stat()
        guard stat(resolved, &info) == 0 else { return resolved }  // does not exist yet: nothing to clobber
        let kind = info.st_mode & S_IFMT
        if kind == S_IFDIR { throw CommandError("\(output): is a folder, not a file to write") }
        if regularFileOnly && kind != S_IFREG {
            throw CommandError("\(output): exists and is not a regular file (a device or pipe); choose another output path")
        }
        let target = (info.st_dev, info.st_ino)
        for input in inputs {
            for candidate in files(of: input) {
                var other = stat()
                if stat(candidate, &other) == 0, (other.st_dev, other.st_ino) == target {
                    throw CommandError("\(output): is one of this command's inputs (\(candidate)); refusing to overwrite it")
                }
            }
        }
        return resolved
    }

    private static func files(of path: String) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return [] }
        guard isDirectory.boolValue else { return [path] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.map { (path as NSString).appendingPathComponent($0) }
    }
}
