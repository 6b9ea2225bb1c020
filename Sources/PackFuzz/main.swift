import IPETFormats
import IPETModels

/// libFuzzer entry point for the IPET pack reader (`AdapterPack`): safetensors container, content digest, metadata
/// JSON, every range and type check, and the tensors the configuration implies (prompts, adapters, all head kinds).
///
/// Each input is read twice. As given, a mutated pack almost always fails its content digest, which is the
/// integrity check working; so the input is also re-sealed — written again by `SafeTensorsWriter` with a fresh
/// digest — and read, which takes the mutated metadata and tensors past the digest into the validation behind it.
/// Re-sealing also checks two properties (a trap is a finding): what the writer writes, the reader reads, and its
/// digest verifies.
///
/// An input starting with `{` is a header without its length prefix (the JSON, then optionally a NUL and bytes
/// for the data buffer, repeated or cut to the length the offsets need): most mutations of a whole file change the
/// header's length and fail the framing, while every mutation of a bare header reaches the pack validation.
/// Build and run (see README "Fuzzing"):
///   swift build --sanitize fuzzer --product PackFuzz --scratch-path .build-fuzz-pack
///   SWIFT_BACKTRACE=enable=no .build-fuzz-pack/debug/PackFuzz <corpus> -dict=tools/fuzz-seeds/pack.dict
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPack(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    if size > 0, bytes[0] == UInt8(ascii: "{") {
        guard let framed = frame(header: bytes) else { return 0 }
        framed.withUnsafeBytes { read($0) }
    } else {
        read(bytes)
    }
    return 0
}

/// Reads `bytes` as a pack, then re-sealed.
func read(_ bytes: UnsafeRawBufferPointer) {
    guard let file = try? SafeTensorsFile(bytes: bytes, path: "<fuzz>", owner: nil) else { return }
    touch(try? AdapterPack(file: file))

    var writer = SafeTensorsWriter(metadata: file.metadata, recordsContentDigest: true)
    for info in file.tensors {
        writer.add(.init(name: info.name, dtype: info.dtype, shape: info.shape, data: Array(file.rawBytes(info))))
    }
    guard let sealed = try? writer.serialize(path: "<fuzz-resealed>") else { return }
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
}

/// A safetensors file from a bare header: length prefix, the header, and a data buffer as long as its largest
/// `data_offsets` end (at most 1 MiB), filled from the bytes after the header's NUL (zeros when there are none).
func frame(header input: UnsafeRawBufferPointer) -> [UInt8]? {
    let split = input.firstIndex(of: 0) ?? input.count
    let header = UnsafeRawBufferPointer(rebasing: input[..<split])
    let fill = split < input.count ? Array(input[(split + 1)...]) : []
    guard case let .object(members)? = try? JSONParser.parse(header) else { return nil }
    var length = 0
    for (_, entry) in members {
        guard case let .array(offsets)? = entry["data_offsets"], offsets.count == 2, let end = offsets[1].int else { continue }
        length = max(length, end)
    }
    guard length <= 1 << 20 else { return nil }
    var out: [UInt8] = withUnsafeBytes(of: UInt64(header.count).littleEndian, Array.init)
    out.reserveCapacity(8 + header.count + length)
    out.append(contentsOf: header)
    for i in 0..<length { out.append(fill.isEmpty ? 0 : fill[i % fill.count]) }
    return out
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
