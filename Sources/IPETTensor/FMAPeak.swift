import CKernels
import Dispatch

/// This CPU's float32 arithmetic peak, measured: threads that each run twelve independent chains of fused
/// multiply-adds in registers (`ipet_fma_peak` in `CKernels/peak.c`, the widest vectors the CPU has), timed together.
///
/// Why measure it: a GEMM's or a whole model's GFLOP/s means little across machines (AVX2 or AVX-512, one or two
/// 512-bit FMA ports, shared hosts whose cores slow down when busy), and the fraction of this peak an engine reaches
/// says how much any software could still gain. `ipet bench peak` prints it; `tools/bench_peers.py` divides each
/// engine's model GFLOP/s by it.
public enum FMAPeak {
    /// The vectors the loop runs: "avx512f", "avx2+fma", or "none" (SSE multiply and add).
    public static var isa: String { String(cString: ipet_fma_peak_isa()) }

    /// Best GFLOP/s over `repeats` tries of `threads` threads each running the loop for about `seconds`.
    public static func measure(threads: Int, repeats: Int = 5, seconds: Double = 0.25) -> Double {
        precondition(threads > 0 && repeats > 0 && seconds > 0)
        let iterations = calibrate(seconds: seconds)
        var best = 0.0
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            let operations = run(threads: threads, iterations: iterations)
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            best = max(best, operations / elapsed / 1e9)
        }
        return best
    }

    /// Iterations that take about `seconds` on one thread.
    private static func calibrate(seconds: Double) -> Int {
        var iterations = 1 << 16
        while true {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = run(threads: 1, iterations: iterations)
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if elapsed >= seconds / 8 || iterations >= 1 << 40 {
                return max(1, Int(Double(iterations) * seconds / max(elapsed, 1e-9)))
            }
            iterations *= 4
        }
    }

    /// Operations done by `threads` concurrent loops of `iterations`.
    private static func run(threads: Int, iterations: Int) -> Double {
        let done = UnsafeMutableBufferPointer<Double>.allocate(capacity: threads)
        defer { done.deallocate() }
        let sink = SendablePointer(UnsafeMutablePointer<Double>(done.baseAddress!))
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            var value: Float = 0  // depends on every chain; the C call keeps the loop
            sink.pointer[t] = ipet_fma_peak(iterations, &value)
        }
        return done.reduce(0, +)
    }
}
