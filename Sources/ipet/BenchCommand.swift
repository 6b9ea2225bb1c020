import ArgumentParser
import Foundation
import IPETAudio
import IPETEngine
import IPETModels
import IPETTensor

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks that print figures (build with -c release).",
        subcommands: [GemmBench.self, KernelBench.self, ThroughputBench.self])
}

struct GemmBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm",
        abstract: "GEMM GFLOP/s for the AST shapes at several thread counts.")

    @Option(help: "Comma-separated thread counts to measure.")
    var threads: String = "1,2"

    @Option(help: "Repetitions per shape; the best time is reported.")
    var repeats: Int = 5

    func run() throws {
        let counts = threads.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !counts.isEmpty, counts.allSatisfy({ $0 > 0 }) else { throw ValidationError("--threads takes positive numbers like 1,2") }
        // (label, m, n, k, transB, batch): the projections, the MLP, and 12 heads of QKᵀ and S·V for 1214 tokens.
        let shapes: [(String, Int, Int, Int, Bool, Int)] = [
            ("1214x768x768 (projection)", 1214, 768, 768, true, 1),
            ("1214x768x3072 (MLP up)", 1214, 3072, 768, true, 1),
            ("12 heads 1214x64x1214 (Q·Kᵀ)", 1214, 1214, 64, true, 12),
            ("12 heads 1214x1214x64 (S·V)", 1214, 64, 1214, false, 12),
        ]
        emit("shape                             threads   ms/call   GFLOP/s\n")
        for (label, m, n, k, transB, batch) in shapes {
            let a = Tensor(shape: [batch, m, k], values: (0..<(batch * m * k)).map { Float(($0 * 7919) % 1000) / 1000 - 0.5 })
            let b = Tensor(shape: [batch, k, n], values: (0..<(batch * k * n)).map { Float(($0 * 104729) % 1000) / 1000 - 0.5 })
            let c = Tensor(zeros: [batch, m, n])
            for t in counts {
                ComputeThreads.configure(t)
                var best = Double.infinity
                for _ in 0..<max(1, repeats) {
                    let start = DispatchTime.now().uptimeNanoseconds
                    if batch == 1 {
                        Gemm.gemm(transB: transB, m: m, n: n, k: k, a: a.data, lda: k, b: b.data, ldb: transB ? k : n,
                                  c: c.mutableData, ldc: n)
                    } else {
                        // Heads in parallel, each one single-threaded BLAS call (how attention runs).
                        let (pa, pb, pc) = (SendablePointer(a.data), SendablePointer(b.data), SendablePointer(c.mutableData))
                        ComputeThreads.parallelFor(batch) { h in
                            Gemm.gemmSerial(transB: transB, m: m, n: n, k: k, a: pa.pointer + h * m * k, lda: k,
                                            b: pb.pointer + h * k * n, ldb: transB ? k : n, c: pc.pointer + h * m * n, ldc: n)
                        }
                    }
                    best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                }
                let flops = 2.0 * Double(m) * Double(n) * Double(k) * Double(batch)
                emit(label.padding(toLength: 34, withPad: " ", startingAt: 0)
                     + String(format: "%7d %9.2f %9.1f\n", t, best * 1e3, flops / best / 1e9))
            }
        }
    }
}

struct KernelBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels", abstract: "Element-wise kernel speed over a 1214×3072 matrix (ms per call).")

    @Option(help: "Comma-separated thread counts to measure.")
    var threads: String = "1,2"

    func run() throws {
        let counts = threads.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !counts.isEmpty, counts.allSatisfy({ $0 > 0 }) else { throw ValidationError("--threads takes positive numbers like 1,2") }
        let rows = 1214, cols = 3072, n = rows * cols
        let source = Tensor(shape: [n], values: (0..<n).map { Float(($0 * 7919) % 2000) / 250 - 4 })
        let x = Tensor(zeros: [n])
        let w = Tensor(shape: [cols], values: Array(repeating: 1.1, count: cols))
        let b = Tensor(shape: [cols], values: Array(repeating: 0.1, count: cols))
        let kernels: [(String, () -> Void)] = [
            ("gelu", { Kernels.gelu(x.mutableData, count: n) }),
            ("softmax rows", { Kernels.softmaxRows(x.mutableData, rows: rows, cols: cols) }),
            ("layernorm rows", { Kernels.layerNorm(x.data, rows: rows, cols: cols, weight: w.data, bias: b.data, eps: 1e-5, into: x.mutableData) }),
            ("add", { Kernels.add(x.data, source.data, into: x.mutableData, count: n) }),
        ]
        emit("kernel            threads   ms/call   ns/element\n")
        for (name, body) in kernels {
            for t in counts {
                ComputeThreads.configure(t)
                var best = Double.infinity
                for _ in 0..<5 {
                    x.mutableData.update(from: source.data, count: n)
                    let start = DispatchTime.now().uptimeNanoseconds
                    body()
                    best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                }
                emit(name.padding(toLength: 18, withPad: " ", startingAt: 0) + String(format: "%7d %9.2f %12.2f\n", t, best * 1e3, best * 1e9 / Double(n)))
            }
        }
    }
}

struct ThroughputBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "throughput",
        abstract: "Files per second of `ipet predict` on synthetic clips, by clip length and batch size.",
        discussion: """
            Uses a real checkpoint (--backbone) or a random-weight one of the full-size default configuration
            (--synthetic ast: MIT/ast-finetuned-audioset-10-10-0.4593's shape; --synthetic wav2vec2:
            facebook/wav2vec2-base's with a 12-label head). Clips are written to a temporary folder as 16 kHz
            PCM16 WAV and run through the whole pipeline (decode, features, model).
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
                model = try Backbone.load(backbone)
            } else {
                let arch = Architecture(rawValue: synthetic == "ast" ? "audio-spectrogram-transformer" : synthetic!)!
                model = try Backbone(try SyntheticCheckpoint.make(arch))
            }
        } catch {
            throw fail(error)
        }
        let tasks = try pack.isEmpty ? [try TaskModel(backbone: model)] : pack.map { try TaskModel(backbone: model, pack: try AdapterPack(path: $0)) }
        let lengths = seconds.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        let batches = batch.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ipet-bench-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        emit("backbone: \(backbone ?? "synthetic " + synthetic!) (\(model.architecture.rawValue)), threads \(ComputeThreads.count), \(tasks.count) task(s)\n")
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
                let runner = BatchRunner(backbone: model, tasks: tasks, options: .init(batchSize: b))
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
