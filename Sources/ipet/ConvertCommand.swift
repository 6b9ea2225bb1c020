import ArgumentParser
import Foundation
import IPETEngine
import IPETFormats
import IPETModels

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a checkpoint to one canonical file, or extract a pack from an official IPET checkpoint.",
        discussion: """
            ipet convert IN OUT: IN is any model ipet reads: a Hugging Face folder (model.safetensors, \
            pytorch_model.bin or tf_model.h5, sharded or not), a PyTorch .bin/.pth (also the original AST code's, \
            with timm names), a TensorFlow .h5, a .safetensors, or an ipet HDF5 file. OUT holds canonical tensor \
            names, the config in its metadata, the backbone fingerprint and a content digest; with a lower \
            precision also the fingerprint of the weights it came from, so packs made for the original still verify \
            (with a precision warning). OUT holds the model's floating-point weights only: every other tensor of IN \
            (integer or boolean ones such as position_ids or num_batches_tracked, and tensors of no part of the model \
            such as the original AST code's unused head) is named on standard error, one line each: note: dropped \
            "NAME" (DTYPE): why.

            ipet convert --ipet-checkpoint CKPT --backbone B OUT.ipet: extracts the prompts, adapters and head of a \
            model tuned with the official IPET code into a pack, after checking that the checkpoint's frozen part \
            equals B.

            PyTorch files are read by a restricted unpickler that runs no code.

            Examples:
              ipet convert ast-audioset ast-f16.safetensors --dtype f16
              ipet convert audioset_10_10_0.4593.pth ast.safetensors
              ipet convert --ipet-checkpoint best.pth --backbone ast-audioset --labels classes.txt --frames 512 esc50.ipet
            """)

    @Argument(help: "Input checkpoint (or, with --ipet-checkpoint, the output pack).")
    var input: String

    @Argument(help: "Output file.")
    var output: String?

    @Option(help: "Stored precision: f32, f16 or bf16.")
    var dtype: String = "f32"

    @Option(name: .customLong("to"), help: "Output container: safetensors or hdf5.")
    var format: String = "safetensors"

    @Option(help: "A config.json to use instead of the one found with (or inferred from) the input.")
    var config: String?

    @Option(name: .customLong("ipet-checkpoint"), help: "An official IPET checkpoint to turn into a pack.")
    var ipetCheckpoint: String?

    @Option(help: "With --ipet-checkpoint: the backbone it was tuned from.")
    var backbone: String?

    @Option(help: "With --ipet-checkpoint: a text file of class names, one per line, in output order.")
    var labels: String?

    @Option(help: "With --ipet-checkpoint (AST): the input frames the task was trained with.")
    var frames: Int?

    @Option(help: "With --ipet-checkpoint (AST): the dataset's fbank mean.")
    var mean: Double?

    @Option(help: "With --ipet-checkpoint (AST): the dataset's fbank std.")
    var std: Double?

    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        guard ["f32", "f16", "bf16"].contains(dtype.lowercased()) else { throw ValidationError("--dtype takes f32, f16 or bf16") }
        guard CheckpointConverter.OutputFormat(rawValue: format) != nil else { throw ValidationError("--to takes safetensors or hdf5") }
        if ipetCheckpoint != nil {
            guard backbone != nil else { throw ValidationError("--ipet-checkpoint needs --backbone") }
            guard output == nil else { throw ValidationError("with --ipet-checkpoint give only the output pack path") }
            if let mean, !mean.isFinite { throw ValidationError("--mean must be a finite number") }
            if let std, !(std.isFinite && std > 0) { throw ValidationError("--std must be a finite positive number") }
            if let frames, !(16...65_536).contains(frames) { throw ValidationError("--frames takes 16 to 65536") }
        } else {
            guard output != nil else { throw ValidationError("give an input and an output path") }
            for (flag, given) in [("--labels", labels != nil), ("--frames", frames != nil), ("--mean", mean != nil),
                                  ("--std", std != nil), ("--backbone", backbone != nil)] where given {
                throw ValidationError("\(flag) belongs to --ipet-checkpoint")
            }
        }
    }

    func run() throws {
        compute.apply()
        let storage = DType(rawValue: dtype.uppercased())!
        do {
            if let ipetCheckpoint, let backbone {
                var options = IPETCheckpointConverter.Options()
                options.dtype = storage
                options.frames = frames
                options.mean = mean
                options.std = std
                if let labels {
                    options.labels = String(decoding: try RegularFile.read(labels, limit: 64 << 20), as: UTF8.self)
                        .split(whereSeparator: \.isNewline)
                        .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                }
                let target = try OutputGuard.check(input, against: [ipetCheckpoint, backbone] + (labels.map { [$0] } ?? []))
                let result = try IPETCheckpointConverter.convert(checkpoint: ipetCheckpoint, backbone: try Backbone.load(backbone),
                                                                 output: target, options: options)
                emit("wrote \(input): k \(result.promptTokens), bottleneck \(result.bottleneck), \(result.labels) classes; "
                     + "\(result.comparedTensors) frozen tensors equal the backbone's\n")
                return
            }
            let configValue = try config.map { try JSONFile.read($0) }
            let target = try OutputGuard.check(output!, against: [input] + (config.map { [$0] } ?? []))
            let result = try CheckpointConverter.convert(input: input, output: target, dtype: storage,
                                                         format: CheckpointConverter.OutputFormat(rawValue: format)!, config: configValue)
            for tensor in result.dropped {
                FileHandle.standardError.write(Data("note: dropped \(tensor.description)\n".utf8))
            }
            emit("wrote \(output!): \(result.tensors) tensors, \(result.bytes) bytes, fingerprint \(result.fingerprint)\n")
            if let original = result.derivedFrom.first, original != result.fingerprint {
                emit("derived from \(original) (packs made for it verify with a precision warning)\n")
            }
        } catch {
            throw fail(error)
        }
    }
}
