import ArgumentParser
import Foundation
import IPETEngine
import IPETModels
import IPETFormats

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Speaker verification: score a trial list, or read finished scores, and report EER and minDCF.",
        discussion: """
            Metrics from existing scores: ipet verify --scores FILE [--json], where FILE has lines `label score` \
            (label 1 = same speaker, 0 = different); later fields are ignored, so files written by --output read back.

            Scoring a trial list (VoxCeleb1-O lines `label enrol test`): ipet verify --trials FILE (--embeddings CACHE \
            | --backbone B --pack P) [--audio-root DIR] [--scoring ipet|cosine] [--cohort PATH [--top-n N]] \
            [--output FILE] [--json]. CACHE is a safetensors file with one tensor [segments, dim] or [dim] per \
            utterance key. With --backbone and --pack, utterances missing from it are computed from DIR/key (IPET: 5 \
            segments per utterance) and CACHE is rewritten, so re-scoring costs nothing; a cache made with another \
            pack is refused.

            ipet scoring: minus the mean Euclidean distance over all segment pairs of the L2-normalised segment \
            embeddings (IPET's rule); cosine: the cosine of the means of the normalised segments. --cohort (a \
            safetensors file of cohort embeddings, or a folder of cohort audio) applies s-norm, or adaptive s-norm \
            over each side's N best cohort scores with --top-n (means and population standard deviations, i.e. \
            divided by N, of the cohort scores). --output writes `label score enrol test` lines (the normalised \
            scores when a cohort is given).

            EER: where P_fa = P_miss on the ROC, interpolating linearly between the two operating points around the \
            crossing (accept when score >= threshold; tied scores move together). minDCF at p_target 0.01 and 0.05, \
            C_miss = C_fa = 1, divided by min(p, 1 - p) as NIST defines it. --json prints one object: eer (a \
            fraction), min_dcf_p01, min_dcf_p05, trials.

            Examples:
              ipet verify --scores scores.txt
              ipet verify --trials veri_test.txt --backbone ast-audioset --pack speakers.ipet --audio-root vox1/wav \\
                  --embeddings vox1-test.safetensors
            """)


    @Option(help: ArgumentHelp("Existing scores: lines `label score` (1 = same speaker).", valueName: "file"))
    var scores: String?

    @Option(help: ArgumentHelp("Trial list: lines `label enrol test` (VoxCeleb1-O format).", valueName: "file"))
    var trials: String?

    @Option(help: ArgumentHelp("Embedding cache (safetensors, one tensor per utterance key); read first, rewritten when embeddings are computed.", valueName: "file"))
    var embeddings: String?

    @Option(help: "A Hugging Face model folder or converted file, to compute embeddings missing from the cache.")
    var backbone: String?

    @Option(help: "The speaker pack (IPET adapter pack with a speaker-embedding head) for --backbone.")
    var pack: String?

    @Option(name: .customLong("audio-root"), help: ArgumentHelp("Folder the trial list's utterance keys are relative to.", valueName: "dir"))
    var audioRoot: String?

    @Option(help: "Scoring rule: ipet (minus the mean 5x5 segment distance) or cosine. Default: ipet.")
    var scoring: SpeakerScoringRule?

    @Option(help: ArgumentHelp("Cohort for s-norm: a safetensors file of cohort embeddings or a folder of cohort audio.", valueName: "path"))
    var cohort: String?

    @Option(name: .customLong("top-n"), help: "Adaptive s-norm: use each side's N highest cohort scores (default: all, plain s-norm).")
    var topN: Int?

    @Option(name: .shortAndLong, help: ArgumentHelp("Write the trial scores here: `label score enrol test` per line.", valueName: "file"))
    var output: String?

    @Flag(help: "Print one JSON object: eer (a fraction), min_dcf_p01, min_dcf_p05, trials.")
    var json = false

    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        // Cached speaker embeddings carry no precision: one cache must not mix int8 and float32 embeddings.
        guard compute.precision == .f32 else { throw ValidationError("--compute int8 applies to predict, eval, embed, pack verify and bench throughput") }
        switch (scores, trials) {
        case (nil, nil): throw ValidationError("give --scores FILE (existing scores) or --trials FILE (a trial list to score)")
        case (_?, _?): throw ValidationError("--scores and --trials exclude each other")
        case (_?, nil):
            let given: [(option: String, isSet: Bool)] = [
                ("--embeddings", embeddings != nil), ("--backbone", backbone != nil), ("--pack", pack != nil),
                ("--audio-root", audioRoot != nil), ("--scoring", scoring != nil), ("--cohort", cohort != nil),
                ("--top-n", topN != nil), ("--output", output != nil),
            ]
            let extra = given.filter(\.isSet).map(\.option)
            guard extra.isEmpty else {
                throw ValidationError("--scores reads finished scores; \(extra.joined(separator: ", ")) only apply with --trials")
            }
        case (nil, _?):
            guard embeddings != nil || backbone != nil else {
                throw ValidationError("give --embeddings FILE (cached embeddings) or --backbone and --pack (to compute them)")
            }
            guard pack == nil || backbone != nil else { throw ValidationError("--pack needs --backbone") }
            guard topN == nil || cohort != nil else { throw ValidationError("--top-n needs --cohort") }
            if let topN, topN < 2 { throw ValidationError("--top-n must be at least 2 (a standard deviation needs two scores)") }
            guard output != "-" else { throw ValidationError("--output needs a file name: standard output carries the metrics") }
        }
    }

    func run() throws {
        compute.apply()
        do {
            if let output {
                _ = try OutputGuard.check(output, against: [scores, trials, embeddings, cohort, pack, backbone].compactMap { $0 })
            }
            if let embeddings {
                // The cache is rewritten when embeddings are computed: never over the pack, the cohort or the trial list.
                _ = try OutputGuard.check(embeddings, against: [scores, trials, cohort, pack, backbone, output].compactMap { $0 })
            }
            let scored: [(label: Bool, score: Double)]
            if let scores {
                scored = try VerificationScoreFile.read(path: scores)
            } else {
                scored = try scoreTrialList(trials!)
            }
            report(try VerificationMetrics(scored))
        } catch {
            throw fail(error)
        }
    }

    private func report(_ metrics: VerificationMetrics) {
        if json {
            let object = JSONValue.object([
                ("eer", .double(metrics.equalErrorRate)), ("min_dcf_p01", .double(metrics.minDCF01)),
                ("min_dcf_p05", .double(metrics.minDCF05)), ("trials", .int(metrics.trials)),
            ])
            emit(object.compactText + "\n")
        } else {
            emit("""
                trials          \(metrics.trials) (\(metrics.targets) target, \(metrics.nonTargets) non-target)
                EER             \(String(format: "%.4f", metrics.equalErrorRate * 100)) %
                minDCF p=0.01   \(String(format: "%.5f", metrics.minDCF01))
                minDCF p=0.05   \(String(format: "%.5f", metrics.minDCF05))

                """)
        }
    }

    /// Trial list → embeddings (cache, then the provider) → scores (normalised with a cohort) → `--output`.
    private func scoreTrialList(_ path: String) throws -> [(label: Bool, score: Double)] {
        let trialList = try VerificationTrialList.read(path: path)
        let keys = VerificationTrialList.utterances(trialList)
        let store = try SpeakerEmbeddingStore(cachePath: embeddings, backbone: backbone, pack: pack)
        var cohortEmbeddings: [String: [[Float]]]?
        do {
            try store.fill(keys.map { ($0, audioPath($0)) }, what: "utterances")
            if let cohort { cohortEmbeddings = try cohortEmbeddingsFrom(cohort, store: store) }
        } catch {
            try? store.save()  // keep what was computed before the failure
            throw error
        }
        try store.save()

        let scorer = SpeakerTrialScorer(
            embeddings: try SpeakerEmbeddingTable(store.embeddings(keys), source: embeddings), rule: scoring ?? .ipet)
        let scores: [Double]
        if let cohort, let cohortEmbeddings {
            let cohortTable = try SpeakerEmbeddingTable(cohortEmbeddings, source: cohort)
            if let topN, topN > cohortTable.count {
                throw CommandError("--top-n \(topN) is larger than the cohort (\(cohortTable.count) utterances)")
            }
            scores = try scorer.normalizedScores(
                trialList, cohort: cohortTable, normalization: topN.map { .adaptive(topN: $0) } ?? .symmetric)
        } else {
            scores = try scorer.scores(trialList)
        }
        if let output {
            do {
                try AtomicFile.write(Array(VerificationScoreFile.text(trials: trialList, scores: scores).utf8),
                                     to: URL(fileURLWithPath: output).resolvingSymlinksInPath().path)
            } catch {
                throw CommandError("\(output): \(error.reason)")
            }
        }
        return zip(trialList, scores).map { ($0.isTarget, $1) }
    }

    /// A safetensors file of cohort embeddings, or a folder of cohort audio whose embeddings are cached beside the
    /// trial utterances under "cohort:<path inside the folder>".
    private func cohortEmbeddingsFrom(_ cohort: String, store: SpeakerEmbeddingStore) throws -> [String: [[Float]]] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: cohort, isDirectory: &isDirectory) else {
            throw CommandError("\(cohort): no such file or folder (--cohort)")
        }
        guard isDirectory.boolValue else { return try SpeakerEmbeddingFile.read(path: cohort) }
        let prefix = cohort.hasSuffix("/") ? cohort : cohort + "/"
        let files = try InputCatalog.expand([cohort]).map { item in
            ("cohort:" + (item.name.hasPrefix(prefix) ? String(item.name.dropFirst(prefix.count)) : item.name), item.path)
        }
        guard !files.isEmpty else { throw CommandError("\(cohort): no audio files in the cohort folder") }
        try store.fill(files, what: "cohort files")
        return store.embeddings(files.map(\.0))
    }

    private func audioPath(_ key: String) -> String {
        guard let audioRoot, !key.hasPrefix("/") else { return key }
        return audioRoot.hasSuffix("/") ? audioRoot + key : audioRoot + "/" + key
    }
}

extension SpeakerScoringRule: ExpressibleByArgument {}
