import ArgumentParser
import Foundation
import IPETAudio
import IPETEngine
import IPETModels
import IPETTensor

struct ThroughputBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "throughput",
        abstract: "Files per second of `ipet predict` on synthetic clips, by clip length and batch size.",
        discussion: """
            Uses a real checkpoint (--backbone) or a random-weight one of the full-size default configuration \
            (--synthetic ast: MIT/ast-finetuned-audioset-10-10-0.4593's shape; --synthetic wav2vec2: \
            facebook/wav2vec2-base's with a 12-label head). Clips are written to a temporary folder as 16 kHz \
            PCM16 WAV and run through the whole pipeline (decode, features, model). With several --pack, packs that \
            share the front end (docs/ARCHITECTURE.md) compute it once per clip.

            Example:
              ipet bench throughput --synthetic wav2vec2 --seconds 10 --batch 1 --files 4
            """)

    @Option(help: "A model folder or converted file.")
    var backbone: String?

    @Option(help: "Build a random-weight full-size backbone instead: ast or wav2vec2.")
    var synthetic: String?

    @Option(help: "An adapter pack to run (repeatable).")
    var pack: [String] = []

    @Option(help: "Clip lengths in seconds, comma-separated.")
    var seconds: String = "1,5"

    @Option(help: "Batch sizes, comma-separated.")
    var batch: String = "1,8"

    @Option(help: "Clips per measurement.")
    var files: Int = 32

    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        guard (backbone == nil) != (synthetic == nil) else { throw ValidationError("give --backbone PATH or --synthetic ast|wav2vec2") }
        if let synthetic, Architecture(rawValue: synthetic == "ast" ? "audio-spectrogram-transformer" : synthetic) == nil {
            throw ValidationError("--synthetic takes ast or wav2vec2")
        }
        guard files > 0 else { throw ValidationError("--files must be positive") }
        let lengths = seconds.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !lengths.isEmpty, lengths.allSatisfy({ $0.map { $0 >= 0.1 && $0 <= 600 } ?? false }) else {
            throw ValidationError("--seconds takes clip lengths from 0.1 to 600, comma-separated (got \"\(seconds)\")")
        }
        let batches = batch.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !batches.isEmpty, batches.allSatisfy({ $0.map { (1...256).contains($0) } ?? false }) else {
            throw ValidationError("--batch takes batch sizes from 1 to 256, comma-separated (got \"\(batch)\")")
        }
    }

    func run() throws {
        compute.apply()
        let model: Backbone
        do {
            if let backbone {
                model = try Backbone.load(backbone, compute: compute.precision)
            } else {
                let arch = Architecture(rawValue: synthetic == "ast" ? "audio-spectrogram-transformer" : synthetic!)!
                let checkpoint = try SyntheticCheckpoint.make(arch)
                checkpoint.weights.quantizesAtLoad = compute.precision == .int8
                model = try Backbone(checkpoint)
            }
        } catch {
            throw fail(error)
        }
        let tasks = try pack.isEmpty ? [try TaskModel(backbone: model)] : pack.map { try TaskModel(backbone: model, pack: try AdapterPack(path: $0)) }
        let lengths = seconds.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        let batches = batch.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        // A fresh private folder (mkdtemp, mode 0700): never one another user could have made, or filled with
        // symlinks, under a guessable name.
        var template = Array((FileManager.default.temporaryDirectory.path + "/ipet-bench-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw CommandError("cannot create a temporary folder for the clips: \(String(cString: strerror(errno)))")
        }
        let dir = URL(fileURLWithPath: String(cString: made))
        defer { try? FileManager.default.removeItem(at: dir) }
        emit("backbone: \(backbone ?? "synthetic " + synthetic!) (\(model.architecture.rawValue)), threads \(ComputeThreads.count), compute \(model.compute.rawValue), \(tasks.count) task(s)\n")
        emit("clip s  batch  files   seconds   files/s\n")
        for length in lengths {
            var items: [InputItem] = []
            for i in 0..<files {
                let path = dir.appendingPathComponent(String(format: "clip-%.1fs-%03d.wav", length, i)).path
                let n = Int(length * 16000)
                let samples = (0..<n).map { t in Float(0.3 * sin(Double(t) * (0.05 + 0.001 * Double(i))) + 0.01 * sin(Double(t * t % 7919))) }
                try AudioFileWriter.write(interleaved: samples, channels: 1, sampleRate: 16000, format: .wavPCM16, to: path)
                items.append(InputItem(path: path))
            }
            for b in batches {
                let runner = try BatchRunner(backbone: model, tasks: tasks, options: .init(batchSize: b))
                // One warm-up input, then the timed run.
                runner.run(Array(items.prefix(1))) { _ in }
                let start = DispatchTime.now().uptimeNanoseconds
                var failures = 0
                runner.run(items) { if $0.failed { failures += 1 } }
                let s = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                emit(String(format: "%6.1f %6d %6d %9.2f %9.2f%@\n", length, b, files, s, Double(files) / s, failures > 0 ? "  (\(failures) failed)" : ""))
            }
        }
    }
}
