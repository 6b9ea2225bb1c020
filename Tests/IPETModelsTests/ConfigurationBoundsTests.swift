import IPETFormats
import IPETModels
import IPETTestSupport
import XCTest

/// `config.json` values that the readers accepted and their first user then trapped on or allocated without bound
/// (README "Fuzzing", JSONFuzz). Each must be refused with an error naming the key; none may crash the process.
final class ConfigurationBoundsTests: XCTestCase {
    private func json(_ text: String) throws -> JSONValue { try JSONParser.parse(text) }

    private func assertRefused(_ text: String, _ expected: String, ast: Bool = true, wav2vec2: Bool = true,
                               file: StaticString = #filePath, line: UInt = #line) throws {
        let config = try json(text)
        if ast {
            XCTAssertThrowsError(try ASTConfiguration(config: config, source: "config.json"), file: file, line: line) {
                XCTAssertTrue("\($0)".contains(expected), "\($0)", file: file, line: line)
            }
        }
        if wav2vec2 {
            XCTAssertThrowsError(try Wav2Vec2Configuration(config: config, source: "config.json"), file: file, line: line) {
                XCTAssertTrue("\($0)".contains(expected), "\($0)", file: file, line: line)
            }
        }
    }

    /// JSONFuzz finding (minimised input committed): a conv stride of 1e15 passed, then `maximumSamples` overflowed.
    func testConvStrideWhoseLongestInputOverflowsIsRefused() throws {
        let config = try JSONFile.read(Fixtures.path("fuzz-regressions/json/conv-stride-overflow.json"))
        XCTAssertThrowsError(try Wav2Vec2Configuration(config: config, source: "config.json")) {
            XCTAssertTrue("\($0)".contains("\"conv_stride\" is 1000000000000000"), "\($0)")
        }
        try assertRefused(#"{"conv_stride":[4096,4096,4096,4096,4096,4096,4096]}"#, "receptive field or hop", ast: false)
        try assertRefused(#"{"conv_kernel":[9223372036854775807,3,3,3,3,2,2]}"#, "conv_kernel", ast: false)
    }

    /// A negative `num_labels` trapped building the label list; a huge one asked for terabytes.
    func testLabelCountOutOfRangeIsRefused() throws {
        try assertRefused(#"{"num_labels":-1}"#, "num_labels")
        try assertRefused(#"{"num_labels":100000000000}"#, "num_labels")
        XCTAssertEqual(try ASTConfiguration(config: try json(#"{"num_labels":3}"#), source: "c").labels, ["LABEL_0", "LABEL_1", "LABEL_2"])
    }

    /// A negative layer count passed both readers and trapped in the models' layer loop; a count near Int.max
    /// overflowed the heads' `layers + 1` layer weights.
    func testLayerCountOutOfRangeIsRefused() throws {
        try assertRefused(#"{"num_hidden_layers":-1}"#, "num_hidden_layers")
        try assertRefused(#"{"num_hidden_layers":0}"#, "num_hidden_layers")
        try assertRefused(#"{"use_weighted_layer_sum":true,"num_hidden_layers":9223372036854775807}"#, "num_hidden_layers")
        try assertRefused(#"{"intermediate_size":-5}"#, "intermediate_size")
    }

    /// The x-vector head indexed `tdnn_dim[0]` of an empty list and multiplied unbounded kernels by widths.
    func testTDNNListsOutOfRangeAreRefused() throws {
        try assertRefused(#"{"tdnn_dim":[],"tdnn_kernel":[],"tdnn_dilation":[]}"#, "tdnn_dim length", ast: false)
        try assertRefused(#"{"tdnn_dim":[8],"tdnn_kernel":[4611686018427387904],"tdnn_dilation":[1]}"#, "tdnn_kernel", ast: false)
        try assertRefused(#"{"tdnn_dim":[8,4611686018427387904],"tdnn_kernel":[1,1],"tdnn_dilation":[1,1]}"#, "tdnn_dim", ast: false)
    }

    /// The published configurations still read (every fixture backbone's config.json).
    func testFixtureConfigurationsStillRead() throws {
        for name in ["gn-postln", "ln-preln-seqcls", "ln-xvector", "gn-seqcls-wls", "short-conv"] {
            let config = try JSONFile.read(Fixtures.path("wav2vec2/\(name)/config.json"))
            XCTAssertNoThrow(try Wav2Vec2Configuration(config: config, source: name), name)
        }
        XCTAssertNoThrow(try Wav2Vec2Configuration(config: try json("{}"), source: "defaults"))
        XCTAssertNoThrow(try ASTConfiguration(config: JSONFile.read(Fixtures.path("ast/tiny-a/config.json")), source: "tiny-a"))
    }
}
