import ArgumentParser
import Foundation
import IPETEngine
import IPETFormats
import IPETModels

struct PackVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "Check that a pack fits a backbone: fingerprint, architecture and shapes.")

    @Argument(help: "The pack file.")
    var path: String

    @Option(help: "The backbone (model folder or converted file).")
    var backbone: String

    @OptionGroup var compute: ComputeOptions

    func run() throws {
        compute.apply()
        do {
            let pack = try AdapterPack(path: path)
            let model = try Backbone.load(backbone)
            if let warning = pack.integrityWarning { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
            switch PackVerification.check(pack, against: model) {
            case .match:
                emit("OK: \(path) fits \(backbone) (\(model.fingerprint))\n")
            case let .derived(warning):
                emit("OK with a precision warning: \(warning)\n")
            case let .mismatch(message, _):
                throw CommandError("\(path): \(message)")
            }
        } catch {
            throw fail(error)
        }
    }
}
