import Foundation
import IPETTestSupport
import XCTest

/// The default thread count follows the CPUs the process was given, not the machine's (`ProcessCPUs`).
final class ThreadBudgetTests: XCTestCase {
    private func threads(_ result: CommandRunner.Result) -> String? {
        result.stderr.split(separator: "\n").first { $0.hasPrefix("ipet: compute threads: ") }.map(String.init)
    }

    private func run(launcher: [String] = [], environment: [String: String] = [:], extra: [String] = []) throws -> CommandRunner.Result {
        // Clear the variables that would otherwise decide, so each case tests one source.
        var env = ["OMP_NUM_THREADS": "", "SLURM_CPUS_PER_TASK": ""]
        for (k, v) in environment { env[k] = v }
        return try CommandRunner.run(["predict", "-v", "--quiet", "--backbone", Fixtures.path("demo/backbone"), "--pack",
                                      Fixtures.path("demo/packs/keywords.ipet"), Fixtures.path("demo/clips/keywords/down.flac")] + extra,
                                     environment: env, launcher: launcher)
    }

    func testTasksetLimitsTheDefault() throws {
        let result = try run(launcher: ["/usr/bin/taskset", "-c", "0"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let line = try XCTUnwrap(threads(result), result.stderr)
        XCTAssertTrue(line.hasPrefix("ipet: compute threads: 1 ("), line)
        if ProcessInfo.processInfo.activeProcessorCount > 1 { XCTAssertTrue(line.contains("CPU affinity: 1 of"), line) }
    }

    func testSlurmAndOpenMPVariablesAreHonoured() throws {
        let slurm = try XCTUnwrap(threads(try run(environment: ["SLURM_CPUS_PER_TASK": "1"])))
        XCTAssertTrue(slurm.hasPrefix("ipet: compute threads: 1 (SLURM_CPUS_PER_TASK=1)"), slurm)
        let omp = try XCTUnwrap(threads(try run(environment: ["OMP_NUM_THREADS": "3", "SLURM_CPUS_PER_TASK": "1"])))
        XCTAssertTrue(omp.hasPrefix("ipet: compute threads: 3 (OMP_NUM_THREADS=3)"), omp)
        let flag = try XCTUnwrap(threads(try run(environment: ["OMP_NUM_THREADS": "3"], extra: ["--threads", "2"])))
        XCTAssertTrue(flag.hasPrefix("ipet: compute threads: 2 (--threads)"), flag)
    }
}
