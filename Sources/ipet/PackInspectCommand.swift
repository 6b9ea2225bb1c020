import ArgumentParser
import Foundation
import IPETEngine
import IPETFormats
import IPETModels

struct PackInspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Show a pack's metadata, parameter counts and the backbone fingerprint it expects.",
        discussion: """
            Also checks the pack's content digest (format 1.1) and says whether its integrity could be checked.

            Example:
              ipet pack inspect esc50.ipet
            """)

    @Argument(help: "The pack file.")
    var path: String

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() throws {
        let pack: AdapterPack
        do { pack = try AdapterPack(path: path) } catch { throw fail(error) }
        let fileSize = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        if json {
            let report: JSONValue = .object([
                ("path", .string(path)), ("version", .string(pack.version)), ("bytes", .int(fileSize)),
                ("architecture", .string(pack.backbone.architecture.rawValue)),
                ("hidden_size", .int(pack.backbone.hiddenSize)), ("num_hidden_layers", .int(pack.backbone.layers)),
                ("num_attention_heads", .int(pack.backbone.heads)), ("fingerprint", .string(pack.backbone.fingerprint)),
                ("prompt_tokens", .int(pack.config.promptTokens)), ("adapter_bottleneck", .int(pack.config.adapterBottleneck)),
                ("adapter_scale", .double(pack.config.adapterScaleAsWritten)), ("adapter_residual", .bool(pack.config.adapterResidual)),
                ("head", .string(pack.head.type.rawValue)), ("labels", .array(pack.labels.map(JSONValue.string))),
                ("parameters", .int(pack.parameterCount)),
                ("content_sha256", pack.contentDigest.map(JSONValue.string) ?? .null),
                ("parameter_groups", .object(pack.parameterBreakdown.map { ($0.group, JSONValue.int($0.count)) })),
            ])
            emit(report.prettyText + "\n")
            return
        }
        var out = "pack:          \(path) (format \(pack.version), \(fileSize) bytes)\n"
        out += "integrity:     " + (pack.contentDigest.map { "\($0) (content checked)" } ?? "not recorded (format 1.0): damage cannot be detected") + "\n"
        out += "backbone:      \(pack.backbone.architecture.displayName), hidden \(pack.backbone.hiddenSize), \(pack.backbone.layers) layers, \(pack.backbone.heads) heads\n"
        if let name = pack.backbone.name { out += "               \(name)\n" }
        out += "fingerprint:   \(pack.backbone.fingerprint)\n"
        out += "prompts:       \(pack.config.promptTokens) per layer\n"
        out += "adapters:      bottleneck \(pack.config.adapterBottleneck), scale \(pack.config.adapterScaleAsWritten)\(pack.config.adapterResidual ? ", with residual copy (official wav2vec 2.0 code)" : "")\n"
        out += "head:          \(pack.head.type.rawValue), \(pack.labels.count) labels\(pack.head.multiLabel ? " (multi-label)" : "")\n"
        if !pack.labels.isEmpty {
            let shown = pack.labels.prefix(12).joined(separator: ", ")
            out += "labels:        \(shown)\(pack.labels.count > 12 ? ", ..." : "")\n"
        }
        let p = pack.preprocessing
        if pack.backbone.architecture == .ast {
            out += "preprocessing: \(p.maxLength.map { "\($0) frames" } ?? "backbone length"), mean \(p.mean.map { "\($0)" } ?? "default"), std \(p.std.map { "\($0)" } ?? "default")\n"
        } else {
            out += "preprocessing: \(p.cropSamples.map { "\($0)-sample crops" } ?? "whole clips"), normalise \(p.doNormalize)\n"
        }
        out += "parameters:    \(pack.parameterCount) (\(formatCount(pack.parameterCount)))"
        out += " = " + pack.parameterBreakdown.map { "\($0.group) \($0.count)" }.joined(separator: " + ") + "\n"
        if let provenance = pack.provenance { out += "provenance:    \(provenance.compactText)\n" }
        emit(out)
    }
}
