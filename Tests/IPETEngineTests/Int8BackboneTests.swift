import Foundation
import IPETEngine
import IPETFormats
import IPETModels
import IPETTensor
import IPETTestSupport
import XCTest

/// An int8 backbone (`--compute int8`, or a file from `ipet convert --dtype int8`) against the float32 one on every
/// tiny fixture and fixture clip (`Formats/int8.md`, "Accuracy").
///
/// The bound, stated once for every fixture: the int8 model keeps float32's top-1 on every clip of a model with a
/// classification head, and each output (logits, or the embedding of a headless backbone) differs from float32's by
/// at most 5 % of the largest float32 magnitude of that output (max |Δ| ≤ 0.05 · max |y_f32|). Measured with
/// u8-per-row activations, the default: 1.3–3.7 % on these random tiny models (3.7 % on tiny-b, whose logits are
/// small; wav2vec 2.0's include its convolutions stored in int8), figures in `docs/native-libraries.md` §8.
final class Int8BackboneTests: XCTestCase {
    override func setUp() { ComputeThreads.configure(2) }
    override func tearDown() {
        Int8ActivationScheme.current = .u8PerRow
        GemmBackend.current = .onednn
        SelfAttention.bfloat16Policy = .whereNative
    }

    static let relativeBound: Float = 0.05

    /// Fixture folders and the clips their references were made from (AST: features; wav2vec 2.0: waveforms).
    static let astFixtures = ["ast/tiny-a", "ast/tiny-b"]
    static let astClips = ["chirp_6s_16k", "mono_8k", "noise_3s_16k", "short_0p5s_16k", "silence_1s_16k", "stereo_44k1", "tone440_2s_16k"]
    static let wav2vec2Fixtures = ["gn-postln", "gn-postln-param", "gn-seqcls-wls", "ln-preln-seqcls", "ln-xvector", "pretraining", "short-conv"]
    static let wav2vec2Clips = ["one_second", "clip_3p7s"]

    /// The outputs of `backbone` (its own head, or the mean last hidden state when it has none) on every clip.
    private func outputs(_ backbone: Backbone, fixture: String) throws -> [(clip: String, values: [Float], hasLogits: Bool)] {
        let task = try (try? TaskModel(backbone: backbone)) ?? TaskModel(backbone: backbone, embedding: .automatic)
        var result: [(String, [Float], Bool)] = []
        if fixture.hasPrefix("ast/") {
            let reference = try Fixtures.safetensors("ast/references/\(fixture.dropFirst(4)).safetensors")
            for clip in Self.astClips {
                let out = try task.run([try reference.floats("\(clip).input_values")])[0]
                result.append((clip, out.logits ?? out.embedding!, out.logits != nil))
            }
        } else {
            let inputs = try Fixtures.safetensors("wav2vec2/references/inputs.safetensors")
            for clip in Self.wav2vec2Clips {
                let out = try task.run([try task.features(try inputs.floats("\(clip).waveform"), source: clip)])[0]
                result.append((clip, out.logits ?? out.embedding!, out.logits != nil))
            }
        }
        return result
    }

    private static func path(_ fixture: String) -> String {
        Fixtures.path(fixture.hasPrefix("ast/") ? fixture : "wav2vec2/\(fixture)")
    }

    /// max over clips of max |Δ| / max |y_f32|, and whether every top-1 was kept.
    private func compare(_ fixture: String, int8 backbone: Backbone, bound: Float = relativeBound,
                         file: StaticString = #filePath, line: UInt = #line) throws
        -> Float
    {
        let reference = try outputs(try Backbone.load(Self.path(fixture)), fixture: fixture)
        let quantized = try outputs(backbone, fixture: fixture)
        var worst: Float = 0
        for (r, q) in zip(reference, quantized) {
            XCTAssertEqual(r.values.count, q.values.count)
            let scale = r.values.map(abs).max() ?? 0
            let error = maxAbsDifference(r.values, q.values) / max(scale, 1e-12)
            worst = max(worst, error)
            XCTAssertLessThanOrEqual(error, bound, "\(fixture) \(r.clip)", file: file, line: line)
            if r.hasLogits {
                XCTAssertEqual(ScoreRanking.order(q.values).first, ScoreRanking.order(r.values).first, "\(fixture) \(r.clip): top-1",
                               file: file, line: line)
            }
        }
        return worst
    }

    func testInt8BackboneOfEveryFixtureKeepsTopOneWithinTheBound() throws {
        var report: [String] = []
        for fixture in Self.astFixtures + Self.wav2vec2Fixtures {
            let backbone = try Backbone.load(Self.path(fixture), compute: .int8)
            XCTAssertEqual(backbone.compute, .int8, fixture)
            report.append("\(fixture) \(String(format: "%.4f", try compare(fixture, int8: backbone)))")
        }
        print("int8 vs float32, max |Δ| / max |y|: " + report.joined(separator: ", "))
    }

    /// The attention products in bfloat16 (natively where the CPU has bf16 dot products, emulated elsewhere, so this
    /// runs the same numbers on every CPU) and in float32 both keep the bound; and the policy really changes them.
    func testBFloat16AttentionProductsKeepTheBound() throws {
        defer {
            SelfAttention.bfloat16Policy = .whereNative
            GemmBackend.current = .onednn
        }
        var report: [String] = []
        var changed = false
        for fixture in Self.astFixtures + Self.wav2vec2Fixtures {
            let backbone = try Backbone.load(Self.path(fixture), compute: .int8)
            SelfAttention.bfloat16Policy = .never
            let float32Products = try outputs(backbone, fixture: fixture)
            let e32 = try compare(fixture, int8: backbone)
            SelfAttention.bfloat16Policy = .always
            let bfloat16Products = try outputs(backbone, fixture: fixture)
            let e16 = try compare(fixture, int8: backbone)
            changed = changed || zip(float32Products, bfloat16Products).contains { $0.values != $1.values }
            report.append("\(fixture) \(String(format: "%.4f / %.4f", e32, e16))")
        }
        XCTAssertTrue(changed, "bfloat16 products give other numbers than float32 ones")
        // Native (oneDNN's bf16 kernels) against emulated (the same rounding, float32 products, under --gemm openblas,
        // whose int8 products are oneDNN's bit for bit): only the order of the sums differs.
        if BFloat16Gemm.isNative {
            SelfAttention.bfloat16Policy = .always
            for fixture in ["ast/tiny-a", "ln-preln-seqcls"] {
                let backbone = try Backbone.load(Self.path(fixture), compute: .int8)
                let native = try outputs(backbone, fixture: fixture)
                GemmBackend.current = .openblas
                let emulated = try outputs(backbone, fixture: fixture)
                GemmBackend.current = .onednn
                for (a, b) in zip(native, emulated) {
                    let scale = a.values.map(abs).max() ?? 1
                    XCTAssertLessThanOrEqual(maxAbsDifference(a.values, b.values), 1e-4 * scale, "\(fixture) \(a.clip): native vs emulated")
                }
            }
        }
        print("int8 vs float32, max |Δ| / max |y|, float32 / bfloat16 attention products (\(BFloat16Gemm.isNative ? "native" : "emulated")): "
              + report.joined(separator: ", "))
    }

    /// Quantising at load and converting give the same int8 weights (one function), so the same outputs, bit for bit.
    func testConvertedInt8FileRunsAsQuantisingAtLoad() throws {
        let dir = Fixtures.temporaryDirectory("int8-fixtures")
        for fixture in ["ast/tiny-a", "ln-preln-seqcls"] {
            let out = dir.appendingPathComponent(fixture.replacingOccurrences(of: "/", with: "-") + ".safetensors").path
            _ = try CheckpointConverter.convert(input: Self.path(fixture), output: out, dtype: .i8)
            let file = try Backbone.load(out)
            XCTAssertEqual(file.compute, .int8, "an int8 file runs in int8 without being asked")
            let atLoad = try Backbone.load(Self.path(fixture), compute: .int8)
            let a = try outputs(file, fixture: fixture), b = try outputs(atLoad, fixture: fixture)
            for (x, y) in zip(a, b) { XCTAssertEqual(x.values, y.values, "\(fixture) \(x.clip)") }
            _ = try compare(fixture, int8: file)
        }
    }

    /// wav2vec 2.0's convolutions are stored in int8 (computed in float32 from `q · scale`), and converting the
    /// int8 file back to float32 keeps its fingerprint (every int8 tensor counts as `q · scale`, whatever its rank).
    func testWav2Vec2ConvolutionsAreStoredInInt8AndConvertBack() throws {
        let dir = Fixtures.temporaryDirectory("int8-w2v")
        let int8 = dir.appendingPathComponent("int8.safetensors").path, back = dir.appendingPathComponent("back.safetensors").path
        let result = try CheckpointConverter.convert(input: Self.path("ln-preln-seqcls"), output: int8, dtype: .i8)
        let file = try SafeTensorsFile(path: int8)
        let convs = file.tensors.filter { $0.name.hasSuffix("conv.weight") || $0.name.hasSuffix("conv.weight_v") }
        XCTAssertFalse(convs.isEmpty)
        for t in convs {
            XCTAssertEqual(t.dtype, .i8, t.name)
            XCTAssertEqual(t.shape.count, 3, t.name)
            XCTAssertEqual(file.info(t.name + Int8Checkpoint.scaleSuffix)?.shape, [t.shape[0]], t.name)
        }
        XCTAssertEqual(file.info("wav2vec2.encoder.pos_conv_embed.conv.weight_g")?.dtype, .f32)
        let reverted = try CheckpointConverter.convert(input: int8, output: back)
        XCTAssertEqual(reverted.fingerprint, result.fingerprint)
        XCTAssertEqual(reverted.derivedFrom, result.derivedFrom)
        XCTAssertEqual(try Backbone.load(back).fingerprint, try Backbone.load(int8).fingerprint)
    }

    /// Every activation scheme keeps the top-1 on every fixture, within twice the bound (the default within the bound;
    /// it was chosen among them on full-size models, `docs/native-libraries.md` §8); the figures are printed side by
    /// side.
    func testEveryActivationSchemeKeepsTopOneWithinTheBound() throws {
        let fixtures = Self.astFixtures + Self.wav2vec2Fixtures
        var lines: [String] = []
        for scheme in Int8ActivationScheme.allCases {
            Int8ActivationScheme.current = scheme
            var worst: [String] = []
            for fixture in fixtures {
                let bound = scheme == .u8PerRow ? Self.relativeBound : 2 * Self.relativeBound
                worst.append(String(format: "%.4f", try compare(fixture, int8: try Backbone.load(Self.path(fixture), compute: .int8),
                                                                bound: bound)))
            }
            lines.append("\(scheme.rawValue): \(worst.joined(separator: " "))")
        }
        print("max |Δ| / max |y| per fixture (\(fixtures.joined(separator: " "))):\n" + lines.joined(separator: "\n"))
    }
}
