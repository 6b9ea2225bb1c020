import IPETAudio
import IPETTestSupport
import Testing

@Test func diagTmp() throws {
    let audio = try Fixtures.safetensors("audio/reference.safetensors")
    for config in ["tiny-a", "tiny-b"] {
        let file = try Fixtures.safetensors("ast/references/\(config).safetensors")
        let c = try SpectrogramFeatures.Configuration(contentsOf: Fixtures.path("ast/\(config)/preprocessor_config.json"))
        let fx = try SpectrogramFeatures(c)
        for clip in ReferenceClips.framed {
            let w = try audio.floats("\(clip.name).16k")
            let ref = try file.floats("\(clip.name).fbank")
            let got = try fx.fbank.compute(w).values
            var worst: (Float, Int) = (0, 0)
            var count = 0
            for i in 0..<ref.count { let d = abs(ref[i] - got[i]); if d > worst.0 { worst = (d, i) }; if d > 1e-4 { count += 1 } }
            let iv = try fx.computeMatrix(w).values
            let ivd = maxAbsDifference(iv, try file.floats("\(clip.name).input_values"))
            print("DIAG \(config) \(clip.name) fbank max \(worst.0) at frame \(worst.1 / c.melBins) bin \(worst.1 % c.melBins) ref \(ref[worst.1]) got \(got[worst.1]) n>1e-4: \(count)/\(ref.count)  input_values max \(ivd)")
        }
    }
}
