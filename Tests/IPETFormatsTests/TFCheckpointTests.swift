import Foundation
import IPETFormats
import IPETTestSupport
import XCTest

/// TensorFlow/Keras `tf_model.h5` checkpoints written by real transformers 4.46.3 TF code (Fixtures/tf, made by
/// tools/make_tf_fixtures.py from the PyTorch fixtures in Fixtures/wav2vec2) read into PyTorch names and layouts.
final class TFCheckpointTests: XCTestCase {
    private static let listing: JSONValue = try! JSONFile.read(Fixtures.path("tf/tf-names.json"))

    private func fixture(_ name: String) -> JSONValue { Self.listing["fixtures"]![name]! }

    private func sourceFile(_ name: String) throws -> SafeTensorsFile {
        let source = fixture(name)["source"]!.string!  // "Fixtures/wav2vec2/<x>/model.safetensors"
        return try Fixtures.safetensors(String(source.dropFirst("Fixtures/".count)))
    }

    /// Names, order, transposes and TF names as transformers' `convert_tf_weight_name_to_pt_weight_name` gives them,
    /// and every value equal (exactly: the conversion copies floats) to the PyTorch tensor it came from.
    private func assertMatchesPyTorch(_ name: String, path: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let checkpoint = try TFCheckpoint(path: Fixtures.path(path))
        let expected = fixture(name)["weights"]!.array!
        let source = try sourceFile(name)
        XCTAssertEqual(checkpoint.weights.map(\.name), expected.map { $0["pt_name"]!.string! }, name, file: file, line: line)
        XCTAssertEqual(checkpoint.weights.map(\.tfName), expected.map { $0["tf_name"]!.string! }, name, file: file, line: line)
        for (weight, entry) in zip(checkpoint.weights, expected) {
            XCTAssertEqual(weight.transpose.rawValue, entry["transpose"]!.string!, weight.name, file: file, line: line)
            XCTAssertEqual(weight.tfShape, entry["tf_shape"]!.array!.map { $0.int! }, weight.name, file: file, line: line)
            XCTAssertEqual(weight.storedDType, .f32)
            let original = entry["safetensors_name"]!.string!
            let info = try XCTUnwrap(source.info(original), original, file: file, line: line)
            XCTAssertEqual(weight.shape, info.shape, weight.name, file: file, line: line)
            XCTAssertEqual(weight.values, try source.floats(original), weight.name, file: file, line: line)
        }
        // Every tensor of the PyTorch state dict is covered exactly once.
        XCTAssertEqual(Set(expected.map { $0["safetensors_name"]!.string! }), Set(source.tensorNames), name, file: file, line: line)
        XCTAssertEqual(Set(checkpoint.weights.map(\.name)).count, checkpoint.weights.count, file: file, line: line)
    }

    func testBareModelMatchesPyTorchWeights() throws {
        try assertMatchesPyTorch("gn-postln", path: "tf/gn-postln/tf_model.h5")
        let checkpoint = try TFCheckpoint(path: Fixtures.path("tf/gn-postln/tf_model.h5"))
        XCTAssertEqual(checkpoint.modelName, "tf_wav2_vec2_model")
        XCTAssertEqual(checkpoint.kerasVersion, "2.15.1")
    }

    func testSequenceClassifierMatchesPyTorchWeights() throws {
        try assertMatchesPyTorch("ln-preln-seqcls", path: "tf/ln-preln-seqcls/tf_model.h5")
    }

    /// `layer_weights` lives in the `top_level_model_weights` group, under a model name with a Keras `_2` suffix.
    func testWeightedLayerSumReadsTopLevelModelWeights() throws {
        try assertMatchesPyTorch("gn-seqcls-wls", path: "tf/gn-seqcls-wls/tf_model.h5")
        let checkpoint = try TFCheckpoint(path: Fixtures.path("tf/gn-seqcls-wls/tf_model.h5"))
        XCTAssertEqual(checkpoint.modelName, "tf_wav2_vec2_for_sequence_classification_2")
        let layerWeights = try XCTUnwrap(checkpoint.weight(named: "layer_weights"))
        XCTAssertEqual(layerWeights.tfName, "tf_wav2_vec2_for_sequence_classification_2/layer_weights:0")
        XCTAssertEqual(layerWeights.shape, [3])
    }

    /// Name lists split into `layer_names0..1` / `weight_names0..2`, stored as fixed-length byte strings.
    func testSplitFixedLengthNameListsReadLikeTheOriginal() throws {
        try assertMatchesPyTorch("gn-seqcls-wls-split", path: "tf/gn-seqcls-wls-split/tf_model.h5")
        let split = try TFCheckpoint(path: Fixtures.path("tf/gn-seqcls-wls-split/tf_model.h5"))
        let plain = try TFCheckpoint(path: Fixtures.path("tf/gn-seqcls-wls/tf_model.h5"))
        XCTAssertEqual(split.weights.map(\.name), plain.weights.map(\.name))
        XCTAssertEqual(split.weights.map(\.values), plain.weights.map(\.values))
    }

    func testWeightNormConvKeepsLegacyNamesAndPyTorchShapes() throws {
        let checkpoint = try TFCheckpoint(path: Fixtures.path("tf/gn-postln/tf_model.h5"))
        let g = try XCTUnwrap(checkpoint.weight(named: "wav2vec2.encoder.pos_conv_embed.conv.weight_g"))
        let v = try XCTUnwrap(checkpoint.weight(named: "wav2vec2.encoder.pos_conv_embed.conv.weight_v"))
        XCTAssertEqual(g.tfShape, [16, 1, 1])
        XCTAssertEqual(g.shape, [1, 1, 16])
        XCTAssertEqual(v.tfShape, [32, 8, 16])
        XCTAssertEqual(v.shape, [32, 8, 16])
        XCTAssertEqual(v.transpose, .none)
        let conv = try XCTUnwrap(checkpoint.weight(named: "wav2vec2.feature_extractor.conv_layers.1.conv.weight"))
        XCTAssertEqual(conv.transpose, .conv1D)
        let dense = try XCTUnwrap(checkpoint.weight(named: "wav2vec2.encoder.layers.0.feed_forward.intermediate_dense.weight"))
        XCTAssertEqual(dense.tfShape, [32, 64])
        XCTAssertEqual(dense.shape, [64, 32])
    }

    func testShardedEqualsUnsharded() throws {
        let whole = try TFCheckpoint(path: Fixtures.path("tf/gn-postln/tf_model.h5"))
        for path in ["tf/gn-postln-sharded", "tf/gn-postln-sharded/tf_model.h5.index.json"] {
            let sharded = try TFCheckpoint(path: Fixtures.path(path))
            XCTAssertEqual(sharded.files.count, 5, path)
            // The shards were saved by a second TFWav2Vec2Model in the same Python process: Keras named it `_2`.
            XCTAssertEqual(sharded.modelName, "tf_wav2_vec2_model_2", path)
            let byName = Dictionary(uniqueKeysWithValues: sharded.weights.map { ($0.name, $0) })
            XCTAssertEqual(Set(byName.keys), Set(whole.weights.map(\.name)), path)
            for w in whole.weights {
                let s = try XCTUnwrap(byName[w.name], w.name)
                XCTAssertEqual(s.shape, w.shape, w.name)
                XCTAssertEqual(s.values, w.values, w.name)
                XCTAssertEqual(TFCheckpoint.shardDatasetName(tfName: s.tfName), TFCheckpoint.shardDatasetName(tfName: w.tfName))
            }
        }
        // Shard order and names as the listing recorded them.
        let sharded = try TFCheckpoint(path: Fixtures.path("tf/gn-postln-sharded"))
        XCTAssertEqual(sharded.weights.map(\.name), fixture("gn-postln-sharded")["weights"]!.array!.map { $0["pt_name"]!.string! })
        XCTAssertEqual(sharded.weights.map(\.tfName), fixture("gn-postln-sharded")["weights"]!.array!.map { $0["tf_name"]!.string! })
    }

    func testFolderResolvesToTheWeightFile() throws {
        let checkpoint = try TFCheckpoint(path: Fixtures.path("tf/gn-postln"))
        XCTAssertTrue(checkpoint.path.hasSuffix("tf/gn-postln/tf_model.h5"))
        XCTAssertThrowsError(try TFCheckpoint(path: Fixtures.path("tf/hdf5"))) { error in
            XCTAssertTrue("\(error)".contains("no tf_model.h5"), "\(error)")
        }
    }

    /// The rules of transformers' `convert_tf_weight_name_to_pt_weight_name` that wav2vec2 itself does not exercise.
    func testNameConversionFollowsTransformers() {
        func convert(_ name: String, rank: Int) -> String {
            let (n, t) = TFCheckpoint.pytorchName(tfName: name, rank: rank)
            return "\(n) \(t.rawValue)"
        }
        XCTAssertEqual(convert("tf_model/wav2vec2/encoder/layers.0/attention/q_proj/kernel:0", rank: 2),
                       "wav2vec2.encoder.layers.0.attention.q_proj.weight SIMPLE")
        XCTAssertEqual(convert("m/a/conv/kernel:0", rank: 3), "a.conv.weight CONV1D")
        XCTAssertEqual(convert("m/a/conv2d/kernel:0", rank: 4), "a.conv2d.weight CONV2D")
        XCTAssertEqual(convert("m/a/ln/gamma:0", rank: 1), "a.ln.weight NO")
        XCTAssertEqual(convert("m/a/ln/beta:0", rank: 1), "a.ln.bias NO")
        XCTAssertEqual(convert("m/emb/embeddings:0", rank: 2), "emb.weight NO")
        XCTAssertEqual(convert("m/layer_._3/dense/bias:0", rank: 1), "layer.3.dense.bias NO")
        XCTAssertEqual(convert("m/x___y/z/w:0", rank: 1), "y.z.w NO")
        // Non-overlapping substitution: a rewritten component consumes its trailing slash.
        XCTAssertEqual(convert("m/a___b/c___d/e:0", rank: 1), "b.c___d.e NO")
        XCTAssertEqual(convert("m/sep/pointwise_kernel:0", rank: 3), "sep.pointwise.weight SIMPLE")
        XCTAssertEqual(convert("m//a//b:0", rank: 1), "a.b NO")
        XCTAssertEqual(convert("layer_weights:0", rank: 1), "layer_weights NO")
        XCTAssertEqual(convert("model_1/layer_weights:0", rank: 1), "layer_weights NO")
        XCTAssertEqual(TFCheckpoint.shardDatasetName(tfName: "tf_wav2_vec2_model/wav2vec2/x/kernel:0"), "wav2vec2/x/kernel:0")
        XCTAssertEqual(TFCheckpoint.shardDatasetName(tfName: "bart/model.encoder/x:0"), "bart/model.encoder/x:0")
    }

    /// Every file in Fixtures/tf/malformed fails with an error that names the file and contains the expected keyword.
    func testMalformedFilesGiveNamedErrors() throws {
        let expected = try JSONFile.read(Fixtures.path("tf/malformed/expected.json"))
        let cases = try XCTUnwrap(expected.object)
        XCTAssertGreaterThanOrEqual(cases.count, 20)
        for (name, entry) in cases {
            let keyword = entry["keyword"]!.string!
            let path = Fixtures.path("tf/malformed/\(name)")
            do {
                let checkpoint = try TFCheckpoint(path: path)
                XCTFail("\(name): read \(checkpoint.weights.count) weights, expected an error containing \"\(keyword)\"")
            } catch {
                let text = error.description
                XCTAssertTrue(text.contains(keyword), "\(name): \"\(text)\" lacks \"\(keyword)\"")
                XCTAssertTrue(text.contains(path) || text.contains("malformed/"), "\(name): \"\(text)\" does not name the file")
            }
        }
    }

    func testTransposesMatchNumpy() {
        // numpy.arange(24).reshape(2, 3, 4).transpose(2, 1, 0)
        let values = (0..<24).map(Float.init)
        var conv: [Float] = []
        for k in 0..<4 { for j in 0..<3 { for i in 0..<2 { conv.append(Float(i * 12 + j * 4 + k)) } } }
        let checkpointShape: [Int] = [2, 3, 4]
        let pt = TFCheckpoint.pytorchName(tfName: "m/c/kernel:0", rank: 3)
        XCTAssertEqual(pt.transpose, .conv1D)
        XCTAssertEqual(TFCheckpoint.permuted(values, shape: checkpointShape, axes: [2, 1, 0]).1, conv)
        // 4-D: transpose(3, 2, 0, 1) of arange(120).reshape(2, 3, 4, 5)
        let v4 = (0..<120).map(Float.init)
        let (shape4, out4) = TFCheckpoint.permuted(v4, shape: [2, 3, 4, 5], axes: [3, 2, 0, 1])
        XCTAssertEqual(shape4, [5, 4, 2, 3])
        var expected4: [Float] = []
        for a in 0..<5 { for b in 0..<4 { for c in 0..<2 { for d in 0..<3 { expected4.append(Float(c * 60 + d * 20 + b * 5 + a)) } } } }
        XCTAssertEqual(out4, expected4)
    }
}
