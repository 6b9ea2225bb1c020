import Foundation
import IPETFormats
import IPETTensor

/// The weight-file formats the importers read.
public enum CheckpointFileFormat: String, Sendable {
    case safetensors
    /// `torch.save` files (`pytorch_model.bin`, `.pth`, `.pt`): zip archives, or the legacy pre-1.6 layout, read by
    /// our restricted pickle machine.
    case torch
    /// TensorFlow/Keras `tf_model.h5` (transformers 4.x TF models).
    case tensorflowHDF5 = "tf-hdf5"
    /// Our plain HDF5 tensor container (`Formats/hdf5.md`).
    case hdf5Container = "hdf5"

    /// Recognises a file by its first bytes (not its name).
    public static func detect(_ path: String) -> CheckpointFileFormat? {
        guard let bytes = try? RegularFile.prefix(path, count: 4096) else { return nil }
        if bytes.starts(with: [0x50, 0x4B, 0x03, 0x04]) { return .torch }
        // torch.save before 1.6 (or with _use_new_zipfile_serialization=False): a magic-number pickle first.
        if bytes.withUnsafeBytes({ TorchCheckpoint.isLegacy($0) }) { return .torch }
        // The HDF5 signature sits at 0 or, after a user block, at 512, 1024, 2048, … (we look in the first 4 kB).
        let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
        if [0, 512, 1024, 2048].contains(where: { bytes.count >= $0 + 8 && Array(bytes[$0..<($0 + 8)]) == signature }) {
            // Keras weight files name their layers in a root attribute; anything else is read as our container.
            guard let file = try? HDF5File(path: path), let keras = try? TFCheckpoint.isKerasWeights(file) else { return .hdf5Container }
            return keras ? .tensorflowHDF5 : .hdf5Container
        }
        if bytes.count >= 9 {
            // safetensors: u64 header length, then JSON starting with '{' (after optional whitespace).
            let rest = bytes[8...].first { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }
            if rest == UInt8(ascii: "{") { return .safetensors }
        }
        return nil
    }

    /// What a file that is not a checkpoint looks like, from its first bytes (audio people pass by mistake), so the
    /// error says that instead of a safetensors parser's complaint about a nonsensical header length. Only for files
    /// `detect` did not recognise.
    public static func foreignKind(_ path: String) -> String? {
        guard let b = try? RegularFile.prefix(path, count: 262) else { return nil }
        if b.isEmpty { return "an empty file (0 bytes)" }
        func starts(_ text: String) -> Bool { b.starts(with: Array(text.utf8)) }
        if starts("fLaC") { return "a FLAC audio file" }
        if starts("RIFF") || starts("RF64") { return b.count >= 12 && Array(b[8..<12]) == Array("WAVE".utf8) ? "a WAV audio file" : "a RIFF file" }
        if starts("OggS") { return "an Ogg audio file" }
        if starts("ID3") || (b.count >= 2 && b[0] == 0xFF && b[1] & 0xE0 == 0xE0) { return "an MP3 audio file" }
        if starts("FORM") { return "an AIFF audio file" }
        if starts("{") || starts("[") { return "a JSON text file" }
        if b.count >= 262, b[257..<262].elementsEqual("ustar".utf8) {
            return "a tar archive (the oldest torch.save format wrote these: re-save it with a current torch)"
        }
        // A safetensors file starts with its header length as 8 little-endian bytes (< 100 MB, so the high bytes are
        // zero); eight printable characters mean text.
        if b.count >= 8, b.prefix(8).allSatisfy({ (0x20...0x7E).contains($0) || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) {
            return "a text file"
        }
        return nil
    }

    /// The tensors and string metadata of one file: its floating-point tensors (the ones a model can use), or with
    /// `includingAllDTypes` every tensor in file order (integer and boolean ones too, whose `load` throws).
    public static func read(_ path: String, includingAllDTypes: Bool = false) throws
        -> (tensors: [SourceTensor], metadata: [(key: String, value: String)])
    {
        func wanted(_ dtype: DType) -> Bool { includingAllDTypes || dtype.isFloatConvertible }
        // A sharded TF checkpoint is named by its index; anything else unrecognised is parsed as safetensors,
        // whose validation says exactly what is wrong.
        let detected = path.hasSuffix(TFCheckpoint.indexName) ? .tensorflowHDF5 : detect(path)
        // Only a file no signature matched is examined as something else (a real safetensors header length can
        // begin with any bytes).
        if detected == nil, let kind = foreignKind(path) {
            throw ModelError(path, "\(kind), not a checkpoint (safetensors, PyTorch or HDF5)")
        }
        let format = detected ?? .safetensors
        switch format {
        case .safetensors:
            let file = try SafeTensorsFile(path: path)
            if case let .mismatch(recorded, computed) = ContentDigest.check(file) {
                throw ModelError(path, ContentDigest.mismatchMessage(recorded: recorded, computed: computed))
            }
            let tensors = file.tensors.filter { wanted($0.dtype) }.map { info in
                SourceTensor(name: info.name, shape: info.shape, dtype: info.dtype, load: { try Tensor.load(info, from: file) })
            }
            return (tensors, file.metadata)
        case .torch:
            let file = try TorchCheckpoint(path: path)
            let tensors = file.tensors.filter { wanted($0.dtype) }.map { info in
                SourceTensor(name: info.name, shape: info.shape, dtype: info.dtype, load: {
                    // F32 tensors laid out contiguously and aligned are used in place, like safetensors.
                    if info.dtype == .f32, info.elementCount > 0, info.byteRange != nil,
                        let raw = try? file.rawBytes(info), let base = raw.baseAddress, Int(bitPattern: base) % 4 == 0
                    {
                        let storage = TensorStorage(mapped: base.assumingMemoryBound(to: Float.self), count: info.elementCount,
                                                    owner: file.storageOwner)
                        return Tensor(shape: info.shape, storage: storage)
                    }
                    return Tensor(shape: info.shape, values: try file.floats(info))
                })
            }
            return (tensors, [])
        case .tensorflowHDF5:
            let file = try TFCheckpoint(path: path)
            return (file.weights.map { w in
                SourceTensor(name: w.name, shape: w.shape, dtype: w.storedDType, load: { Tensor(shape: w.shape, values: w.values) })
            }, [])
        case .hdf5Container:
            let file = try HDF5TensorContainer(path: path)
            if case let .mismatch(recorded, computed) = ContentDigest.check(file) {
                throw ModelError(path, ContentDigest.mismatchMessage(recorded: recorded, computed: computed))
            }
            return (file.tensors.map { e in
                SourceTensor(name: e.name, shape: e.shape, dtype: e.dtype, load: { Tensor(shape: e.shape, values: e.values) })
            }, file.metadata)
        }
    }
}
