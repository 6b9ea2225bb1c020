import IPETFormats
import IPETModels
import IPETTestSupport
import XCTest

/// Packs with a valid content digest whose values trapped, hung or were wrongly refused behind it (README
/// "Fuzzing", PackFuzz). Built here with `SafeTensorsWriter`, sealed like a real pack, and read from memory.
final class AdapterPackHardeningTests: XCTestCase {
    private struct Spec {
        var backbone = #"{"architecture":"wav2vec2","hidden_size":16,"num_hidden_layers":2,"num_attention_heads":4,"fingerprint":"sha256:00"}"#
        var config = #"{"prompt_tokens":0,"adapter_bottleneck":0}"#
        var head = #"{"type":"mean-std"}"#
        var tensors: [(name: String, shape: [Int])] = []
    }

    private func read(_ spec: Spec) throws -> AdapterPack {
        var writer = SafeTensorsWriter(metadata: [
            ("ipet.format", "ipet-pack"), ("ipet.version", "1.1"), ("ipet.backbone", spec.backbone),
            ("ipet.config", spec.config), ("ipet.head", spec.head), ("ipet.preprocessing", "{}"),
        ], recordsContentDigest: true)
        for t in spec.tensors {
            let count = t.shape.contains(0) ? 0 : t.shape.reduce(1, *)
            writer.add(.init(name: t.name, shape: t.shape, floats: (0..<count).map { Float($0 % 7) / 10 }))
        }
        let bytes = try writer.serialize(path: "test.ipet")
        return try bytes.withUnsafeBytes { raw in
            try AdapterPack(file: try SafeTensorsFile(bytes: raw, path: "test.ipet", owner: nil))
        }
    }

    private func assertRefused(_ spec: Spec, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try read(spec), file: file, line: line) {
            XCTAssertTrue("\($0)".contains(expected), "\($0)", file: file, line: line)
            XCTAssertTrue("\($0)".contains("test.ipet"), "the error names the pack: \($0)", file: file, line: line)
        }
    }

    private let xvectorHeadTensors: [(name: String, shape: [Int])] = [
        ("head.projector.weight", [8, 16]), ("head.projector.bias", [8]),
        ("head.tdnn.0.kernel.weight", [8, 8]), ("head.tdnn.0.kernel.bias", [8]),
        ("head.feature_extractor.weight", [4, 16]), ("head.feature_extractor.bias", [4]),
        ("head.classifier.weight", [4, 4]), ("head.classifier.bias", [4]),
    ]

    /// With neither prompts nor adapters, a pack looped over `num_hidden_layers` (2e9: a hang) before any tensor
    /// was missed.
    func testHugeLayerCountIsRefusedBeforeTheLayerLoop() {
        var spec = Spec()
        spec.backbone = #"{"architecture":"audio-spectrogram-transformer","hidden_size":4,"num_hidden_layers":2000000000,"num_attention_heads":1,"fingerprint":"sha256:00"}"#
        spec.head = #"{"type":"ast-pooled"}"#
        spec.tensors = [("head.norm.weight", [4]), ("head.norm.bias", [4]), ("head.linear.weight", [2, 4]), ("head.linear.bias", [2])]
        assertRefused(spec, "num_hidden_layers 2000000000")
    }

    /// The x-vector head indexed the first of an empty TDNN list.
    func testXVectorHeadWithEmptyTDNNListsIsRefused() {
        var spec = Spec()
        spec.head = #"{"type":"w2v2-xvector","tdnn_dim":[],"tdnn_kernel":[],"tdnn_dilation":[]}"#
        spec.tensors = xvectorHeadTensors
        assertRefused(spec, "tdnn_dim length")
    }

    /// The x-vector head multiplied a kernel of 2^62 taps by the input width.
    func testXVectorHeadWithOverflowingKernelIsRefused() {
        var spec = Spec()
        spec.head = #"{"type":"w2v2-xvector","tdnn_dim":[8],"tdnn_kernel":[4611686018427387904],"tdnn_dilation":[1]}"#
        spec.tensors = xvectorHeadTensors
        assertRefused(spec, "tdnn_kernel")
    }

    /// transformers' heads on a backbone whose hidden size 12 or 16 does not divide were refused ("hidden_size 16
    /// is not divisible by num_attention_heads 12"): the head's configuration took the attention defaults.
    func testTransformersHeadsReadOnAnyHiddenSize() throws {
        var spec = Spec()
        spec.head = #"{"type":"w2v2-xvector","tdnn_kernel":[1],"tdnn_dilation":[1],"embedding_dim":4}"#
        spec.tensors = xvectorHeadTensors
        XCTAssertEqual(try read(spec).taskHead.embeddingDimension, 4)
        spec.head = #"{"type":"w2v2-sequence-classification","labels":["a","b","c"]}"#
        spec.tensors = [("head.projector.weight", [8, 16]), ("head.projector.bias", [8]), ("head.classifier.weight", [3, 8]),
                        ("head.classifier.bias", [3])]
        XCTAssertEqual(try read(spec).taskHead.classCount, 3)
    }
}
