import ArgumentParser
import Foundation
import IPETEngine
import IPETModels

/// Options shared by the commands that run a backbone and packs over a collection of inputs.
struct RunOptions: ParsableArguments {
    @Option(help: ArgumentHelp(HelpText.backbone, valueName: "model"))
    var backbone: String

    @Option(help: ArgumentHelp(HelpText.pack + " Repeatable: every pack runs on the one loaded backbone.", valueName: "pack.ipet"))
    var pack: [String] = []

    @Flag(name: .customLong("allow-mismatch"), help: "Run packs made for other weights of the same shape (with a warning).")
    var allowMismatch = false

    @Option(help: "Scores: sigmoid (multi-label), softmax, or none (raw logits). Default: from the head.")
    var activation: ScoreActivation?

    @Option(help: "Window length in seconds (default: the model's input length, which is also the longest allowed; 0 = no windows: the first input length only).")
    var window: Double?

    @Option(help: "Hop between windows in seconds (default: the window length).")
    var hop: Double?

    @Option(help: "Windows per model call.")
    var batch: Int = 1

    @Option(help: "Extensions picked up in folders, comma-separated (default: common audio extensions).")
    var ext: String?

    @Option(help: "Process only slice K of N (K/N, 0-based): a deterministic split by file name for parallel jobs.")
    var shard: String?

    @Flag(help: "No progress output on standard error.")
    var quiet = false

    @OptionGroup var compute: ComputeOptions

    func validateRun() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
        // Seconds become sample counts: keep them finite and in a range where that conversion and the number of
        // windows per file stay sane (a 1 µs hop would make millions of windows per second of audio).
        // The last window holds at least half a window of audio, and both models need 400 samples (25 ms at
        // 16 kHz): 50 ms is the shortest window whose every piece can be analysed.
        if let window, !(window == 0 || (window >= 0.05 && window <= 3600)) {
            throw ValidationError("--window takes 0 (off) or 0.05 to 3600 seconds")
        }
        if let hop, !(hop >= 0.01 && hop <= 3600) { throw ValidationError("--hop takes 0.01 to 3600 seconds") }
        if let ext, extensions.isEmpty || extensions.contains("") {
            throw ValidationError("--ext takes extensions like wav,flac (got \"\(ext)\")")
        }
        if let shard, Shard(shard) == nil { throw ValidationError("--shard takes K/N with 0 <= K < N, e.g. 0/4") }
    }

    var extensions: Set<String> {
        guard let ext else { return AudioInput.audioExtensions }
        return Set(ext.split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: ". ")).lowercased() })
    }

    /// Loads the backbone once and builds one task per pack (or the backbone's own head).
    func makeRunner(perWindow: Bool = false) throws -> BatchRunner {
        let model = try Backbone.load(backbone, compute: compute.precision)
        let tasks = pack.isEmpty
            ? [try TaskModel(backbone: model, activation: activation)]
            : try pack.map { try TaskModel(backbone: model, pack: try AdapterPack(path: $0), activation: activation, allowMismatch: allowMismatch) }
        let names = tasks.map(\.name)
        if Set(names).count != names.count {
            throw CommandError("\(pack.joined(separator: ", ")): two packs have the same file name; records are told apart by it")
        }
        return try BatchRunner(backbone: model, tasks: tasks,
                           options: .init(window: window, hop: hop, perWindow: perWindow, batchSize: batch))
    }

    /// The inputs after folder expansion and sharding.
    func items(_ inputs: [String], labelsFromFolders: Bool = false) throws -> [InputItem] {
        var items = try InputCatalog.expand(inputs, extensions: extensions, labelsFromFolders: labelsFromFolders)
        if let shard = shard.flatMap(Shard.init) { items = items.filter { shard.contains($0.shardKey) } }
        return items
    }
}

extension ScoreActivation: ExpressibleByArgument {}
