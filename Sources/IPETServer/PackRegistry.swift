import Foundation
import IPETEngine
import IPETFormats
import IPETModels

/// The packs a server runs on its one backbone, by name. Each name maps to an immutable `PackSnapshot`; installing
/// a pack swaps the snapshot, so requests admitted before keep the version they took. Packs are read and bound to
/// the backbone before the actor is entered (`load`), so a large upload never stalls requests looking packs up.
public actor PackRegistry {
    public nonisolated let backbone: Backbone
    private var packs: [String: PackSnapshot] = [:]
    private var lastVersion = 0

    public init(backbone: Backbone) { self.backbone = backbone }

    /// Names a client may give a pack: they appear in URLs, file names and metrics labels.
    public static func isValidName(_ name: String) -> Bool {
        guard (1...64).contains(name.utf8.count), name.first != "." else { return false }
        return name.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D || b == 0x5F || b == 0x2E
        }
    }

    /// The current snapshot of every named pack, in the order given; an unknown name is a 404 naming it.
    public func snapshots(_ names: [String]) throws(ServerError) -> [PackSnapshot] {
        try names.map { name throws(ServerError) in
            guard let snapshot = packs[name] else {
                throw ServerError(.notFound, "no pack named \"\(name)\" is loaded (loaded: \(packs.keys.sorted().joined(separator: ", ")))")
            }
            return snapshot
        }
    }

    /// Every loaded pack, by name.
    public func all() -> [PackSnapshot] { packs.keys.sorted().map { packs[$0]! } }

    /// Installs a task loaded by `load` under `name`; returns the new snapshot and whether it replaced one.
    public func install(_ task: TaskModel, as name: String) -> (snapshot: PackSnapshot, replaced: Bool) {
        lastVersion += 1
        let snapshot = PackSnapshot(name: name, version: lastVersion, task: task)
        let replaced = packs.updateValue(snapshot, forKey: name) != nil
        return (snapshot, replaced)
    }

    /// Removes a pack; false when there was none of that name. Requests holding its snapshot still finish.
    public func remove(_ name: String) -> Bool { packs.removeValue(forKey: name) != nil }

    /// Reads a pack file and binds it to `backbone`. A pack made for other weights is a 409 naming both
    /// fingerprints and what differs; a file the pack reader refuses is a 400 with the reader's reason.
    public nonisolated static func load(path: String, backbone: Backbone, shownAs shown: String) throws(ServerError) -> TaskModel {
        func say(_ error: any Error) -> String {
            "\(shown): " + IPETFormats.detail(of: error, about: path).replacingOccurrences(of: path, with: shown)
        }
        let pack: AdapterPack
        do { pack = try AdapterPack(path: path) } catch { throw ServerError(.badRequest, say(error)) }
        if case let .mismatch(message, _) = PackVerification.check(pack, against: backbone) {
            throw ServerError(.conflict, "\(shown): " + message.replacingOccurrences(of: path + ": ", with: "").replacingOccurrences(of: path, with: shown))
        }
        do { return try TaskModel(backbone: backbone, pack: pack) } catch { throw ServerError(.badRequest, say(error)) }
    }

    /// `load` for a pack sent as bytes: written to a private temporary folder under its name (the engine reads
    /// packs from files, memory-mapped), read, and removed.
    public nonisolated static func load(bytes: [UInt8], name: String, backbone: Backbone) throws(ServerError) -> TaskModel {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ipet-serve-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent(name + ".ipet").path
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            guard FileManager.default.createFile(atPath: path, contents: Data(bytes), attributes: [.posixPermissions: 0o600]) else {
                throw ServerError(.internalServerError, "cannot write a temporary copy of the pack")
            }
        } catch let error as ServerError {
            throw error
        } catch {
            throw ServerError(.internalServerError, "cannot write a temporary copy of the pack: \(error)")
        }
        return try load(path: path, backbone: backbone, shownAs: "pack \(name)")
    }
}
