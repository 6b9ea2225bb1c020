import CKernels
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// How many CPUs this process may really use, for the default thread budget.
///
/// `_SC_NPROCESSORS_ONLN` counts the machine's cores, not the ones a job was given: under `taskset -c 0`, in a
/// container with a CPU quota, or in a Slurm job step, using every core oversubscribes the ones we have. So the
/// default comes, in this order, from `OMP_NUM_THREADS` (the usual way to ask a compute program for N threads),
/// `SLURM_CPUS_PER_TASK` (what a Slurm task was allocated), and otherwise the smaller of the CPUs in this
/// process's affinity mask (`sched_getaffinity`) and the cgroup CPU quota (v2 `cpu.max`, v1
/// `cpu.cfs_quota_us / cpu.cfs_period_us`, rounded up).
public enum ProcessCPUs {
    /// The default thread count and why, e.g. `(1, "CPU affinity: 1 of 2 online CPUs")`.
    public static func available(environment: [String: String] = ProcessInfo.processInfo.environment) -> (count: Int, reason: String) {
        func positive(_ key: String) -> Int? { environment[key].flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }.flatMap { $0 > 0 ? $0 : nil } }
        if let n = positive("OMP_NUM_THREADS") { return (n, "OMP_NUM_THREADS=\(n)") }
        if let n = positive("SLURM_CPUS_PER_TASK") { return (n, "SLURM_CPUS_PER_TASK=\(n)") }
        let online = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        var count = online, reason = "\(online) online CPUs"
        if let mask = affinityCount(), mask < count {
            count = mask
            reason = "CPU affinity: \(mask) of \(online) online CPUs"
        }
        if let quota = cgroupQuota(), quota < count {
            count = quota
            reason = "cgroup CPU quota: \(quota) CPUs"
        }
        return (count, reason)
    }

    /// CPUs in this process's affinity mask.
    static func affinityCount() -> Int? {
        let n = Int(ipet_affinity_cpu_count())
        return n > 0 ? n : nil
    }

    /// The CPU quota of this process's cgroup, in whole CPUs (rounded up), or nil when there is none.
    static func cgroupQuota() -> Int? {
        // cgroup files report a size of 0, so they are read up to a bound rather than by their size.
        func read(_ path: String) -> String? {
            guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
            defer { try? handle.close() }
            // `try?` flattens, so this reads the same whether this Foundation's read(upToCount:) returns Data or Data?.
            guard let bytes: Data = try? handle.read(upToCount: 4096) else { return nil }
            return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        // cgroup v2: "max 100000" (no quota) or "<quota> <period>".
        if let line = read("/sys/fs/cgroup/cpu.max") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let quota = Double(parts[0]), let period = Double(parts[1]), quota > 0, period > 0 {
                return max(1, Int((quota / period).rounded(.up)))
            }
            return nil
        }
        // cgroup v1: quota -1 means none.
        if let q = read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").flatMap(Double.init), let p = read("/sys/fs/cgroup/cpu/cpu.cfs_period_us").flatMap(Double.init),
            q > 0, p > 0
        {
            return max(1, Int((q / p).rounded(.up)))
        }
        return nil
    }
}
