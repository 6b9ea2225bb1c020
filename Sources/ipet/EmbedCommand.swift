import ArgumentParser
import Foundation
import IPETEngine
import IPETFormats
import IPETModels

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Write one embedding per audio file to a safetensors file.",
        discussion: """
            Each input becomes one F32 tensor named by the input's name as records give it (folder entries as \
            folder/relative/path). x-vector checkpoints give x-vectors; other checkpoints the mean over time of the \
            last hidden state (AST: the pooled CLS/distillation output). --layer N takes the mean of hidden_states[N] \
            instead (0 = encoder input); --pooled takes what the checkpoint's head pools. Each clip is embedded whole: \
            an AST sees its first input length only (as transformers truncates), a wav2vec 2.0 the whole clip (up to \
            5 minutes).

            With a speaker pack (--pack), IPET's protocol: N segments per utterance (--segments, default the pack's \
            or 5) of the pack's input length, linearly spaced (a shorter utterance is repeated to one segment), each \
            embedded and L2-normalised: a [N, dim] tensor per input.

            Files that fail are listed on standard error and in the metadata entry "failed" (JSON), and the exit \
            status is then 2.

            Examples:
              ipet embed --backbone w2v2-base --layer 6 -o layer6.safetensors clips/
              ipet embed --backbone ast-audioset --pack speakers.ipet -o speakers.safetensors voxceleb/test/
            """)

    @Option(help: ArgumentHelp(HelpText.backbone, valueName: "model"))
    var backbone: String

    @Option(help: "A speaker pack (IPET speaker head): embeddings by IPET's segment protocol.")
    var pack: String?

    @Option(help: "Segments per utterance with --pack (0 = one embedding of the whole clip, not normalised).")
    var segments: Int?

    @Flag(name: .customLong("allow-mismatch"), help: "Use a pack made for other weights of the same shape.")
    var allowMismatch = false

    @Option(help: "Mean over time of hidden_states[N] (0 = encoder input, N = output of layer N).")
    var layer: Int?

    @Flag(help: "The vector the checkpoint's head pools.")
    var pooled = false

    @Option(name: .shortAndLong, help: "The safetensors file to write.")
    var output: String

    @OptionGroup var compute: ComputeOptions

    @Argument(help: ArgumentHelp(HelpText.inputs, valueName: "input"))
    var inputs: [String]

    func validate() throws {
        guard !(pooled && layer != nil) else { throw ValidationError("--layer and --pooled exclude each other") }
        guard pack == nil || (layer == nil && !pooled) else { throw ValidationError("--layer and --pooled do not apply to packs") }
        guard pack != nil || segments == nil else { throw ValidationError("--segments needs --pack") }
        if let segments, !(0...1000).contains(segments) { throw ValidationError("--segments takes 0 (whole clip) to 1000") }
        guard !inputs.isEmpty else { throw ValidationError("give at least one audio file or folder") }
    }

    func run() throws {
        compute.apply()
        let runner: BatchRunner
        let files: [InputItem]
        let target: String
        do {
            let model = try Backbone.load(backbone, compute: compute.precision)
            let task: TaskModel
            if let pack {
                task = try TaskModel(backbone: model, pack: try AdapterPack(path: pack), allowMismatch: allowMismatch)
                guard task.pack?.taskHead.givesEmbeddings == true else {
                    throw CommandError("\(pack): the pack has no embedding head (a speaker head)")
                }
            } else {
                task = try TaskModel(backbone: model, embedding: pooled ? .pooled : layer.map { .layer($0) } ?? .automatic)
            }
            // A speaker pack follows IPET's segment protocol unless --segments 0 asks for one whole-clip embedding;
            // otherwise each clip is embedded whole (AST: its first input length).
            let segmented = pack != nil && segments != 0
            runner = try BatchRunner(backbone: model, tasks: [task], options: .init(
                window: 0, segments: segmented ? SegmentEmbedder(task: task, count: segments).count : nil))
            files = try InputCatalog.expand(inputs)
            // Each embedding is stored under its input's name; safetensors reserves one name for the header's
            // metadata, so such an input is refused now rather than after every file has been computed.
            if let reserved = files.first(where: { $0.name == "__metadata__" }) {
                throw CommandError("\(reserved.path): an input named __metadata__ cannot be stored (safetensors reserves that "
                                   + "name for its metadata); rename the file or give it by another path")
            }
            target = try OutputGuard.check(output, against: inputs + files.map(\.path) + [backbone] + (pack.map { [$0] } ?? []))
        } catch {
            throw fail(error)
        }
        var failed: [(key: String, value: JSONValue)] = []
        var writer = SafeTensorsWriter(recordsContentDigest: true)
        runner.run(files) { result in
            let answer = result.answers[0]
            if let error = answer.error {
                let text = CommandError.detail(for: error)
                FileHandle.standardError.write(Data("error: \(result.item.name): \(text)\n".utf8))
                failed.append((result.item.name, .string(text)))
            } else if let segments = answer.segments {
                writer.add(.init(name: result.item.name, shape: [segments.count, segments.first?.count ?? 0], floats: segments.flatMap { $0 }))
            } else if let e = answer.embedding {
                writer.add(.init(name: result.item.name, shape: [e.count], floats: e))
            }
        }
        let kindText = pack.map { "pack \($0), \(segments == 0 ? "whole clip" : "segments")" } ?? (pooled ? "pooled" : layer.map { "layer \($0)" } ?? "automatic")
        writer.metadata = [
            ("format", "pt"), ("ipet.backbone", backbone), ("ipet.embedding", kindText),
            ("failed", JSONValue.object(failed).compactText),
        ]
        do {
            try writer.write(to: target)
        } catch {
            throw fail(error)
        }
        if !failed.isEmpty {
            FileHandle.standardError.write(Data("ipet: \(failed.count) of \(files.count) files failed\n".utf8))
            throw ExitCode(2)
        }
    }
}
