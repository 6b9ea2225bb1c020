import IPETFormats

/// libFuzzer entry point for the PyTorch checkpoint reader (placeholder until the reader lands).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPickle(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = UnsafeRawBufferPointer(start: data, count: size)
    return 0
}
