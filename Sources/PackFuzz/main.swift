import IPETFormats
import IPETModels

/// libFuzzer entry point for the IPET pack reader (`AdapterPack`): safetensors container, content digest, metadata
/// JSON, every range and type check, and the tensors the configuration implies (prompts, adapters, all head kinds).
///
/// Each input is read twice. As given, a mutated pack almost always fails its content digest, which is the
/// integrity check working; so the input is also re-sealed — written again by `SafeTensorsWriter` with a fresh
/// digest — and read, which takes the mutated metadata and tensors past the digest into the validation behind it.
/// Re-sealing also checks two properties (a trap is a finding): what the writer writes, the reader reads, and its
/// digest verifies. Build and run (see README "Fuzzing"):
///   swift build --sanitize fuzzer --product PackFuzz --scratch-path .build-fuzz-pack
///   SWIFT_BACKTRACE=enable=no .build-fuzz-pack/debug/PackFuzz <corpus> -dict=tools/fuzz-seeds/pack.dict
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPack(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    guard let file = try? SafeTensorsFile(bytes: bytes, path: "<fuzz>", owner: nil) else { return 0 }
    touch(try? AdapterPack(file: file))

    var writer = SafeTensorsWriter(metadata: file.metadata, recordsContentDigest: true)
    for info in file.tensors {
        writer.add(.init(name: info.name, dtype: info.dtype, shape: info.shape, data: Array(file.rawBytes(info))))
    }
    guard let sealed = try? writer.serialize(path: "<fuzz-resealed>") else { return 0 }
    sealed.withUnsafeBytes { raw in
        let resealed: SafeTensorsFile
        do {
            resealed = try SafeTensorsFile(bytes: raw, path: "<fuzz-resealed>", owner: nil)
        } catch {
            preconditionFailure("SafeTensorsWriter wrote a file SafeTensorsFile refuses: \(error)")
        }
        precondition(ContentDigest.check(resealed) == .verified, "a freshly written content digest does not verify")
        touch(try? AdapterPack(file: resealed))
    }
    return 0
}

/// Reads what the tool reads from an accepted pack (`ipet pack inspect`, predict), so derived values are fuzzed too.
func touch(_ pack: AdapterPack?) {
    guard let pack else { return }
    _ = pack.parameterCount
    _ = pack.parameterBreakdown
    _ = pack.integrityWarning
    _ = pack.taskHead.classCount
    _ = pack.taskHead.embeddingDimension
    _ = pack.taskHead.needsHiddenStates
    _ = pack.head.json.compactText
}
