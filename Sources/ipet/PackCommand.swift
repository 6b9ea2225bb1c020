import ArgumentParser
import Foundation
import IPETEngine
import IPETFormats
import IPETModels

struct PackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pack",
        abstract: "Inspect and verify IPET adapter packs (Formats/ipet-pack.md).",
        subcommands: [PackInspectCommand.self, PackVerifyCommand.self])
}
