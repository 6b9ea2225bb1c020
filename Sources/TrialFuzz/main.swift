import IPETEngine
import IPETFormats

/// libFuzzer entry point for the speaker-verification text files and what `--resume` reads:
/// `VerificationTrialList.parse` (then `utterances`), `VerificationScoreFile.parse` (then the metrics computed from
/// the scores), and the two layers `ResumeState.parse` reads an existing output file with — `CSV.records` and the
/// JSON parser line by line. `ResumeState` itself lives in the `ipet` executable, whose `main` cannot be linked
/// into a libFuzzer binary, so its own bookkeeping on top of those readers is covered by the CLI tests instead.
///   swift build --sanitize fuzzer --product TrialFuzz --scratch-path .build-fuzz-trial
///   SWIFT_BACKTRACE=enable=no .build-fuzz-trial/debug/TrialFuzz <corpus> -dict=tools/fuzz-seeds/trial.dict
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTrials(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: data, count: size))
    // The readers refuse text that is not UTF-8 before parsing (`VerificationTextFile.readText`).
    if let text = String(validating: bytes, as: UTF8.self) {
        if let trials = try? VerificationTrialList.parse(text, path: "<fuzz>") {
            _ = VerificationTrialList.utterances(trials)
        }
        if let scores = try? VerificationScoreFile.parse(text, path: "<fuzz>") {
            _ = try? VerificationMetrics(scores)
        }
    }
    // As ResumeState reads a CSV output file, and a JSON Lines one: each line's record, its file and pack.
    if let records = try? CSV.records(bytes) {
        _ = records.last?.range.upperBound
    }
    var lineStart = 0
    for (i, byte) in bytes.enumerated() where byte == UInt8(ascii: "\n") {
        let text = String(decoding: bytes[lineStart..<i], as: UTF8.self)
        if let record = try? JSONParser.parse(text) { _ = (record["file"]?.string, record["pack"]?.string, record["error"]) }
        lineStart = i + 1
    }
    return 0
}
