import ArgumentParser
import Foundation
import IPETAudio
import IPETEngine
import IPETModels
import IPETTensor

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks that print figures (build with -c release).",
        subcommands: [GemmBench.self, KernelBench.self, PeakBench.self, ThroughputBench.self])
}

/// `--threads 1,2` of `bench gemm`, `kernels` and `peak`: the thread counts to measure, each 1 to 1024; an entry that
/// is not such a number refuses the whole list (usage error) rather than being dropped.
struct ThreadCounts: ExpressibleByArgument {
    let values: [Int]

    init(_ values: [Int]) { self.values = values }

    init?(argument: String) {
        let parts = argument.split(separator: ",", omittingEmptySubsequences: false)
            .map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.allSatisfy({ $0.map { (1...1024).contains($0) } ?? false }) else { return nil }
        values = parts.compactMap { $0 }
    }

    var defaultValueDescription: String { values.map(String.init).joined(separator: ",") }
}
