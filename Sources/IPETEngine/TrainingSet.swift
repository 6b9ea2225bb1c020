import Foundation
import IPETFormats
import IPETModels

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Labelled audio for training a pack: the files, one class each, and the class names in logit order (sorted by
/// their UTF-8 bytes, as Python's `sorted` orders folder names).
public struct TrainingSet: Sendable {
    public let classes: [String]
    public let items: [InputItem]
    /// Class index of each item.
    public let labels: [Int]
    /// The folder or manifest it came from, for messages.
    public let source: String

    public init(classes: [String], items: [InputItem], labels: [Int], source: String) {
        self.classes = classes
        self.items = items
        self.labels = labels
        self.source = source
    }

    /// A folder with one sub-folder per class (its name is the class), each holding audio files, searched
    /// recursively. `classes` fixes the class list (a validation folder uses the training classes); otherwise it is
    /// the sorted sub-folder names and must have at least two.
    public static func folder(_ path: String, classes given: [String]? = nil, extensions: Set<String> = AudioInput.audioExtensions)
        throws -> TrainingSet
    {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw EngineError(path: path, "is not a folder (training data is a folder with one sub-folder per class)")
        }
        let folders = try classFolders(path, extensions: extensions).sorted(by: bytewise)
        guard !folders.isEmpty else {
            throw EngineError(path: path, "has no class sub-folders (put each class's audio in a sub-folder named after the class)")
        }
        let classes = try given ?? checked(folders, source: path)
        var items: [InputItem] = [], labels: [Int] = []
        for name in folders {
            let folder = (path as NSString).appendingPathComponent(name)
            guard let label = classes.firstIndex(of: name) else {
                throw EngineError(path: folder, "class \"\(name)\" is not one of the training classes (\(classes.joined(separator: ", ")))")
            }
            // A class folder without audio is an error (InputCatalog says which extensions it looked for).
            for item in try InputCatalog.expand([folder], extensions: extensions) {
                items.append(InputItem(fileSystemPath: item.fileSystemPath, name: item.name, labels: [name], shardKey: item.shardKey))
                labels.append(label)
            }
        }
        return TrainingSet(classes: classes, items: items, labels: labels, source: path)
    }

    /// The class sub-folders of `path` (hidden ones aside), listed on raw bytes so that nothing is skipped without a
    /// word: Foundation's listing dropped a folder whose name is not UTF-8, and audio files beside the class
    /// folders or links to missing folders were ignored, so a run trained on less data than the user gave it and
    /// said nothing. Each of those is an error naming the entries.
    private static func classFolders(_ path: String, extensions: Set<String>) throws -> [String] {
        guard let dir = opendir(path) else {
            throw EngineError(path: path, "cannot list the folder: \(String(cString: strerror(errno)))")
        }
        defer { closedir(dir) }
        var folders: [String] = [], notText: [String] = [], looseAudio: [String] = [], dangling: [String] = []
        while let entry = readdir(dir) {
            let bytes = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            guard bytes.first != UInt8(ascii: ".") else { continue }
            let full = Array(path.utf8) + [UInt8(ascii: "/")] + bytes
            let cPath = full.map { CChar(bitPattern: $0) } + [0]
            var info = stat()
            guard stat(cPath, &info) == 0 else {
                var link = stat()
                if lstat(cPath, &link) == 0, link.st_mode & S_IFMT == S_IFLNK { dangling.append(PathText.escape(bytes)) }
                continue
            }
            if info.st_mode & S_IFMT == S_IFDIR {
                guard let name = String(validating: bytes, as: UTF8.self) else {
                    notText.append(PathText.escape(bytes))
                    continue
                }
                folders.append(name)
            } else if let name = String(validating: bytes, as: UTF8.self),
                      extensions.contains((name as NSString).pathExtension.lowercased()) {
                looseAudio.append(name)
            }
        }
        func some(_ names: [String]) -> String {
            names.sorted().prefix(3).joined(separator: ", ") + (names.count > 3 ? " and \(names.count - 3) more" : "")
        }
        if !notText.isEmpty {
            throw EngineError(path: path, "class folder names must be UTF-8 text (they become the pack's labels); rename \(some(notText))")
        }
        if !dangling.isEmpty {
            throw EngineError(path: path, "links to missing class folders: \(some(dangling))")
        }
        if !looseAudio.isEmpty {
            throw EngineError(path: path, "holds audio outside the class sub-folders (\(some(looseAudio))); move each file into "
                + "the sub-folder of its class")
        }
        return folders
    }

    /// A manifest (`InputCatalog.manifest`: CSV, TSV or JSON Lines) whose rows have one label each. `classes` as for
    /// `folder`; otherwise the sorted distinct labels.
    public static func manifest(_ path: String, classes given: [String]? = nil) throws -> TrainingSet {
        let rows = try InputCatalog.manifest(path)
        guard !rows.isEmpty else { throw EngineError(path: path, "the manifest lists no files") }
        for row in rows where row.labels.count != 1 {
            throw EngineError(path: path, "\(row.name) has \(row.labels.isEmpty ? "no label" : "\(row.labels.count) labels"); "
                              + "training takes exactly one label per file")
        }
        let classes = try given ?? checked(Array(Set(rows.map { $0.labels[0] })).sorted(by: bytewise), source: path)
        var labels: [Int] = []
        for row in rows {
            guard let label = classes.firstIndex(of: row.labels[0]) else {
                throw EngineError(path: path, "\(row.name) has label \"\(row.labels[0])\", which is not one of the training classes "
                                  + "(\(classes.joined(separator: ", ")))")
            }
            labels.append(label)
        }
        return TrainingSet(classes: classes, items: rows, labels: labels, source: path)
    }

    private static func checked(_ classes: [String], source: String) throws -> [String] {
        guard classes.count >= 2 else {
            throw EngineError(path: source, "has only one class (\"\(classes.first ?? "")\"); a classifier needs at least two")
        }
        return classes
    }

    private static func bytewise(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    /// The items at `indices`, same classes.
    public func subset(_ indices: [Int]) -> TrainingSet {
        TrainingSet(classes: classes, items: indices.map { items[$0] }, labels: indices.map { labels[$0] }, source: source)
    }

    /// A stratified split: per class (in class order), a random `fraction` of its items (rounded half to even, as
    /// Python's `round`) goes to validation. Both parts keep the original item order.
    public func split(validationFraction fraction: Double, generator: inout SeededRandomGenerator) -> (train: TrainingSet, validation: TrainingSet) {
        var train: [Int] = [], validation: [Int] = []
        for c in classes.indices {
            let members = labels.indices.filter { labels[$0] == c }
            let order = generator.permutation(members.count).map { members[$0] }
            let count = Int((Double(members.count) * fraction).rounded(.toNearestOrEven))
            validation += order.prefix(count)
            train += order.dropFirst(count)
        }
        return (subset(train.sorted()), subset(validation.sorted()))
    }
}
