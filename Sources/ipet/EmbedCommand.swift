import ArgumentParser
import Foundation
import IPETEngine
import IPETFormats
import IPETTensor

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Write one embedding per audio file to a safetensors file.",
        discussion: """
            Each input becomes one F32 tensor named by the input's path as given (folder entries as
            folder/relative/path). x-vector checkpoints give x-vectors; other checkpoints the mean over time of
            the last hidden state (AST: the pooled CLS/distillation output). --layer N takes the mean of
            hidden_states[N] instead (0 = encoder input); --pooled takes what the checkpoint's head pools.
            Files that fail are listed on standard error and in the metadata entry "failed" (JSON), and the exit
            status is then 2.
            """)

    @Option(help: "A Hugging Face model folder (config.json + model.safetensors) or a converted file.")
    var backbone: String

    @Option(help: "Mean over time of hidden_states[N] (0 = encoder input, N = output of layer N).")
    var layer: Int?

    @Flag(help: "The vector the checkpoint's head pools.")
    var pooled = false

    @Option(name: .shortAndLong, help: "The safetensors file to write.")
    var output: String

    @OptionGroup var compute: ComputeOptions

    @Argument(help: "Audio files or folders.")
    var inputs: [String]

    func validate() throws {
        guard !(pooled && layer != nil) else { throw ValidationError("--layer and --pooled exclude each other") }
        guard !inputs.isEmpty else { throw ValidationError("give at least one audio file or folder") }
    }

    func run() throws {
        compute.apply()
        let embedder: Embedder
        let files: [InputItem]
        do {
            let kind: EmbeddingKind = pooled ? .pooled : layer.map { .layer($0) } ?? .automatic
            embedder = try Embedder(backbone: try Backbone.load(backbone), kind: kind)
            files = try InputCatalog.expand(inputs)
        } catch {
            throw fail(error)
        }
        let workspace = Workspace()
        var failed: [(key: String, value: JSONValue)] = []
        var writer = SafeTensorsWriter()
        for item in files {
            do {
                let vector = try embedder.embed(file: item.path, workspace: workspace)
                writer.add(.init(name: item.name, shape: [vector.count], floats: vector))
            } catch {
                let text = problemText(error, path: item.path)
                FileHandle.standardError.write(Data("error: \(item.name): \(text)\n".utf8))
                failed.append((item.name, .string(text)))
            }
        }
        let kindText = pooled ? "pooled" : layer.map { "layer \($0)" } ?? "automatic"
        writer.metadata = [
            ("format", "pt"), ("ipet.backbone", backbone), ("ipet.embedding", kindText),
            ("failed", JSONValue.object(failed).compactText),
        ]
        do {
            try writer.write(to: output)
        } catch {
            throw fail(error)
        }
        if !failed.isEmpty {
            FileHandle.standardError.write(Data("ipet: \(failed.count) of \(files.count) files failed\n".utf8))
            throw ExitCode(2)
        }
    }
}
