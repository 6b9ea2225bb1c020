import FuzzSupport
import IPETEngine
import Logging

/// libFuzzer entry point for input manifests: `InputCatalog.manifest` on the same bytes as `.csv`, `.tsv` and
/// `.jsonl` (written to scratch files in /dev/shm, since the catalog reads by path), the RFC 4180 reader
/// (`CSV.records`) with both separators, `LabelList.split` and `PathText`. Properties (a trap is a finding):
/// CSV records tile the input in order (`--resume` cuts files at their ranges); `PathText.unescape(escape(b)) == b`
/// for any bytes, and a spelling `unescape` accepts is the one `escape` writes; labels read back from their joined
/// spelling unchanged.
///   swift build --sanitize fuzzer --product ManifestFuzz --scratch-path .build-fuzz-manifest
///   SWIFT_BACKTRACE=enable=no .build-fuzz-manifest/debug/ManifestFuzz <corpus> -dict=tools/fuzz-seeds/manifest.dict
/// Where inputs are written, once per manifest kind; statics, so they exist on first use whichever `main` runs
/// (libFuzzer's does). `quiet` silences the duplicate-row warnings, once.
enum Scratch {
    static let manifests = ["csv", "tsv", "jsonl"].map { ScratchFile(name: "manifest", extension: $0) }
    static let quiet: Void = LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzManifest(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = Scratch.quiet
    let raw = UnsafeRawBufferPointer(start: data, count: size)
    let bytes = Array(raw)

    for file in Scratch.manifests where file.replace(with: raw) {
        if let items = try? InputCatalog.manifest(file.path) {
            for item in items { precondition(!item.fileSystemPath.isEmpty && !item.name.isEmpty, "an empty manifest path was accepted") }
        }
    }

    for separator in [UInt8(ascii: ","), UInt8(ascii: "\t")] {
        guard let records = try? CSV.records(bytes, separator: separator) else { continue }
        var end = 0, line = 0
        for (i, record) in records.enumerated() {
            precondition(record.range.lowerBound == end && record.range.upperBound > end, "CSV record \(i) does not start where the previous ended")
            precondition(record.line > line, "CSV record \(i) does not start on a later line")
            precondition(record.terminated || i == records.count - 1, "an unterminated CSV record that is not the last")
            end = record.range.upperBound
            line = record.line
        }
        precondition(end == bytes.count, "CSV records end at byte \(end) of \(bytes.count)")
    }

    let escaped = PathText.escape(bytes)
    precondition(PathText.unescape(escaped) == bytes, "PathText.unescape(escape(b)) != b")
    if let text = String(validating: bytes, as: UTF8.self) {
        if let unescaped = PathText.unescape(text) {
            precondition(Array(PathText.escape(unescaped).utf8) == bytes, "PathText.unescape accepts a spelling escape does not write")
        }
        let labels = LabelList.split(text)
        let again = LabelList.split(LabelList.join(labels))
        precondition(again.map { Array($0.unicodeScalars) } == labels.map { Array($0.unicodeScalars) },
                     "labels change when joined and split again: \(labels) → \(again)")
    }
    return 0
}
