import IPETFormats

/// libFuzzer entry point for the safetensors header parser. Build and run (see README "Fuzzing"):
///   swift build --sanitize fuzzer --product SafeTensorsFuzz
///   SWIFT_BACKTRACE=enable=no .build/debug/SafeTensorsFuzz Fixtures/safetensors/malformed -max_total_time=600
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    if let file = try? SafeTensorsFile(bytes: bytes, path: "<fuzz>", owner: nil) {
        // Touch every tensor the way a loader would, so conversions are fuzzed too.
        for info in file.tensors where info.dtype.isFloatConvertible && info.elementCount <= 1 << 16 {
            _ = try? file.floats(info.name)
        }
    }
    return 0
}
