import FuzzSupport
import IPETFormats

/// libFuzzer entry point for the HDF5 readers: `HDF5File` (libhdf5's open, then our pre-checks of the structures
/// libhdf5 trusts too much, `HDF5Integrity`), the Keras checkpoint walk (`TFCheckpoint`) and the tensor container
/// walk (`HDF5TensorContainer`). libhdf5 opens files by name, so each input is written to a scratch file in
/// /dev/shm. Kept small on purpose: it only calls the public readers, so it runs unchanged on a hardened walk.
/// Only our code is instrumented for coverage; a crash inside libhdf5 still stops the run and is a finding.
///   swift build --sanitize fuzzer --product HDF5Fuzz --scratch-path .build-fuzz-hdf5
///   SWIFT_BACKTRACE=enable=no .build-fuzz-hdf5/debug/HDF5Fuzz <corpus> -dict=tools/fuzz-seeds/hdf5.dict
/// Where inputs are written; a static, so it exists on first use whichever `main` runs (libFuzzer's does).
enum Scratch { static let file = ScratchFile(name: "hdf5", extension: "h5") }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHDF5(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard Scratch.file.replace(with: UnsafeRawBufferPointer(start: data, count: size)) else { return 0 }
    guard let file = try? HDF5File(path: Scratch.file.path) else { return 0 }
    if let checkpoint = try? TFCheckpoint(path: Scratch.file.path) {
        _ = checkpoint.weights.reduce(0) { $0 + $1.values.count }
    }
    if let container = try? HDF5TensorContainer(file: file) {
        _ = ContentDigest.check(container)
    }
    return 0
}
