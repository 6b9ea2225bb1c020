import IPETFormats

/// libFuzzer entry point for the PyTorch checkpoint reader: zip archive, restricted pickle machine, state-dict
/// search, storage validation and tensor conversion. Build and run (seed corpus: the small torch fixtures):
///   swift build --sanitize fuzzer --product PickleFuzz --scratch-path .build-fuzz-pickle
///   mkdir -p /tmp/pickle-corpus && find Fixtures/torch -type f \( -name '*.pth' -o -name '*.pkl' -o -name '*.pt' \
///       -o -name '*.bin' \) -size -20k -exec cp {} /tmp/pickle-corpus/ \;
///   SWIFT_BACKTRACE=enable=no .build-fuzz-pickle/debug/PickleFuzz /tmp/pickle-corpus -dict=Fixtures/torch/fuzz.dict \
///       -max_len=16384 -timeout=60 -max_total_time=600 -print_final_stats=1
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPickle(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    // Non-zip input goes through the pickle machine inside (legacy / bare-pickle detection).
    if let checkpoint = try? TorchCheckpoint(bytes: bytes, path: "<fuzz>", owner: nil) {
        // Touch every tensor the way an importer would, so ranges and strided copies are fuzzed too.
        for info in checkpoint.tensors where info.elementCount <= 1 << 16 {
            if info.dtype.isFloatConvertible {
                _ = try? checkpoint.floats(info)
            } else {
                _ = checkpoint.contiguousBytes(info)
            }
            if let raw = try? checkpoint.rawBytes(info) { _ = raw.first }
        }
    }
    // The zip reader on its own, whatever the first bytes are.
    if let archive = try? ZipArchive(bytes: bytes, path: "<fuzz>", owner: nil) {
        for entry in archive.entries where entry.isStored { _ = try? archive.storedBytes(entry).last }
    }
    return 0
}
