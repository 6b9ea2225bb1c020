import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The files below a folder, found with `opendir`/`readdir` on raw bytes so that no name is lost: names that are
/// not valid UTF-8 are listed like any other (Foundation's enumerator skips them without a word).
///
/// Symbolic links are listed (they may point at audio) but never descended, so a link cycle cannot loop; nested
/// folders are descended up to `maximumDepth` levels, and a folder whose device and inode were already seen is not
/// walked twice. Entries are whatever is not a folder: regular files, links, and special files (a FIFO or a
/// device), which the caller keeps so that they get an error record rather than vanish.
enum FolderWalk {
    /// Deeper than any dataset layout; a bound on work for a hostile tree.
    static let maximumDepth = 64

    /// Paths relative to `root`, unsorted.
    static func entries(below root: [UInt8], name: String) throws(EngineError) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var seen = Set<[UInt64]>()
        func walk(_ relative: [UInt8], depth: Int) throws(EngineError) {
            let full = relative.isEmpty ? root : root + [UInt8(ascii: "/")] + relative
            let cPath = full.map { CChar(bitPattern: $0) } + [0]
            var info = stat()
            guard stat(cPath, &info) == 0 else { throw EngineError(path: name, "cannot list \(PathText.escape(full))") }
            guard seen.insert([UInt64(info.st_dev), UInt64(info.st_ino)]).inserted else { return }
            guard depth <= maximumDepth else {
                throw EngineError(path: name, "folders nest deeper than \(maximumDepth) levels at \(PathText.escape(full))")
            }
            guard let dir = opendir(cPath) else {
                throw EngineError(path: name, "cannot list \(PathText.escape(full)): \(String(cString: strerror(errno)))")
            }
            defer { closedir(dir) }
            var folders: [[UInt8]] = []
            while let entry = readdir(dir) {
                let entryName = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
                if entryName == [UInt8(ascii: ".")] || entryName == [UInt8(ascii: "."), UInt8(ascii: ".")] { continue }
                let child = relative.isEmpty ? entryName : relative + [UInt8(ascii: "/")] + entryName
                var kind = entry.pointee.d_type
                if kind == UInt8(DT_UNKNOWN) {
                    var childInfo = stat()
                    let childPath = (full + [UInt8(ascii: "/")] + entryName).map { CChar(bitPattern: $0) } + [0]
                    kind = lstat(childPath, &childInfo) == 0 && childInfo.st_mode & S_IFMT == S_IFDIR ? UInt8(DT_DIR) : UInt8(DT_REG)
                }
                if kind == UInt8(DT_DIR) { folders.append(child) } else { out.append(child) }
            }
            for folder in folders { try walk(folder, depth: depth + 1) }
        }
        try walk([], depth: 0)
        return out
    }
}
