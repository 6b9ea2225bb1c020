import ArgumentParser
import Foundation
import IPETEngine
import IPETFormats
import IPETModels

struct PackVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "Check that a pack fits a backbone: fingerprint, architecture and shapes.",
        discussion: """
            Exit status 0 when the pack fits (with a warning when the backbone is a lower-precision copy of the one \
            the pack was made for), 1 when it does not, naming both fingerprints and what differs.

            Example:
              ipet pack verify esc50.ipet --backbone ast-audioset
            """)

    @Argument(help: "The pack file.")
    var path: String

    @Option(help: ArgumentHelp(HelpText.backbone, valueName: "model"))
    var backbone: String

    @OptionGroup var compute: ComputeOptions

    func run() throws {
        compute.apply()
        do {
            let pack = try AdapterPack(path: path)
            let model = try Backbone.load(backbone, compute: compute.precision)
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
