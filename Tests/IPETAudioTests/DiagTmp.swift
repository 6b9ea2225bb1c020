import Dispatch
import IPETAudio
import IPETFormats
import IPETTestSupport
import Testing

@Test func diagTmp() throws {
    let audio = try Fixtures.safetensors("audio/reference.safetensors")
    var dec: Float = 0
    for clip in ReferenceClips.all {
        let d = try AudioDecoder.decode(path: ReferenceClips.path(clip))
        dec = max(dec, maxAbsDifference(d.samples, try audio.floats("\(clip.name).decoded")))
    }
    print("DIAG decode max \(dec)")
    for clip in ReferenceClips.resampled {
        let r = try Resampler.resample(try audio.floats("\(clip.name).decoded"), from: clip.sampleRate, to: 16000)
        print("DIAG resample \(clip.name) \(maxAbsDifference(r, try audio.floats("\(clip.name).16k"))) len \(r.count)")
    }
    for config in ["tiny-a", "tiny-b"] {
        let file = try Fixtures.safetensors("ast/references/\(config).safetensors")
        let fx = try SpectrogramFeatures(SpectrogramFeatures.Configuration(contentsOf: Fixtures.path("ast/\(config)/preprocessor_config.json")))
        for clip in ReferenceClips.framed {
            let w = try audio.floats("\(clip.name).16k")
            let ref = try file.floats("\(clip.name).fbank")
            let got = try fx.fbank.compute(w).values
            var hi: Float = 0, lo: Float = 0, sum = 0.0
            for i in 0..<ref.count { let d = abs(ref[i] - got[i]); sum += Double(d); if ref[i] >= -10 { hi = max(hi, d) } else { lo = max(lo, d) } }
            let out = try fx.computeMatrix(w).values
            let iv = maxAbsDifference(out, try file.floats("\(clip.name).input_values"))
            let ivn = file.info("\(clip.name).input_values_numpy") != nil ? maxAbsDifference(out, try file.floats("\(clip.name).input_values_numpy")) : -1
            print("DIAG \(config) \(clip.name) fbank>=-10 \(hi) near-floor \(lo) mean \(sum / Double(ref.count)) input_values \(iv) numpy \(ivn)")
        }
    }
    let x = TestSignals.noise(amplitude: 0.3, count: 160 * 10000 + 240)  // 10000 frames
    let fb = try KaldiFbank()
    for threads in [1, 2] {
        var best = Double.infinity
        for _ in 0..<30 {
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = try fb.compute(x, maxThreads: threads)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        print("DIAG fbank threads \(threads): \(Int(10000 / best)) frames/s (\(best * 1e6 / 10000) us/frame)")
    }
    let clip = TestSignals.noise(amplitude: 0.3, count: 163_840)
    let fx = try SpectrogramFeatures()
    var best = Double.infinity
    for _ in 0..<30 {
        let t0 = DispatchTime.now().uptimeNanoseconds
        _ = try fx.compute(clip)
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
    print("DIAG AST 10.24 s clip -> [1024,128]: \(best * 1e3) ms")
}
