import Dispatch
import Foundation
import IPETAudio
import IPETFormats
import IPETTestSupport
import Testing

@Test func diagTmp() throws {
    let orig = (0..<128).map { _ in Float.random(in: 1e-7...100) }
    var v = orig
    var best = Double.infinity
    for _ in 0..<5 {
        let t0 = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<10000 {
            v = orig
            v.withUnsafeMutableBufferPointer { VectorLog.flooredLog($0.baseAddress!, count: $0.count, floor: 1.1920929e-07) }
        }
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
    print("DIAG vectorlog \(best / 1.28e6 * 1e9) ns/value")
    best = .infinity
    var w = orig
    for _ in 0..<5 {
        let t0 = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<10000 {
            w = orig
            w.withUnsafeMutableBufferPointer { b in for i in b.indices { b[i] = logf(b[i]) } }
        }
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
    print("DIAG logf \(best / 1.28e6 * 1e9) ns/value maxdiff \(maxAbsDifference(v, w))")
    let x = TestSignals.noise(amplitude: 0.3, count: 160 * 10000 + 240)  // 10000 frames
    var noLog = KaldiFbankOptions(); noLog.useLogFbank = false
    for (name, o) in [("ast", KaldiFbankOptions()), ("nolog", noLog)] {
        let fb = try KaldiFbank(options: o)
        for threads in [1, 2] {
            var best = Double.infinity
            for _ in 0..<20 {
                let t0 = DispatchTime.now().uptimeNanoseconds
                _ = try fb.compute(x, maxThreads: threads)
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            }
            print("DIAG \(name) threads \(threads): \(Int(10000 / best)) frames/s (\(best * 1e6 / 10000) us/frame)")
        }
    }
}
