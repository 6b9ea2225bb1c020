import Foundation
import IPETFormats
import IPETModels
import IPETTensor
import IPETTestSupport
import XCTest

/// The load-time value checks: the non-finite scan (vectorised fast path, exact position) and epsilons.
final class WeightValueCheckTests: XCTestCase {
    func testFirstNonFiniteFindsEveryKindAtEveryPosition() {
        let finite: [Float] = [0, -0.0, 1, -1, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNonzeroMagnitude,
                               .leastNormalMagnitude, 3e38, -.leastNonzeroMagnitude]
        for count in [1, 7, 16, 17, 33, 1000] {
            var values = (0..<count).map { finite[$0 % finite.count] }
            values.withUnsafeBufferPointer { XCTAssertNil(WeightValueCheck.firstNonFinite($0), "\(count)") }
            for bad in [Float.nan, -Float.nan, .infinity, -.infinity, Float(bitPattern: 0x7F80_0001), Float(bitPattern: 0xFFC0_0000)] {
                for position in Set([0, count / 2, count - 1]) {
                    let saved = values[position]
                    values[position] = bad
                    values.withUnsafeBufferPointer { XCTAssertEqual(WeightValueCheck.firstNonFinite($0), position, "\(count) \(bad)") }
                    values[position] = saved
                }
            }
        }
        [Float]().withUnsafeBufferPointer { XCTAssertNil(WeightValueCheck.firstNonFinite($0)) }
    }

    func testCheckFiniteNamesTheTensorAsTheFileSpellsIt() throws {
        let store = WeightStore(source: "model.safetensors")
        store.insert(Tensor(shape: [3], values: [1, 2, 3]), canonical: "a", original: "a")
        store.insert(Tensor(shape: [2, 2], values: [1, .nan, .infinity, .nan]), canonical: "b.canonical", original: "b.as.stored")
        XCTAssertThrowsError(try WeightValueCheck.checkFinite(store)) { error in
            XCTAssertEqual(error as? CheckpointValueError, CheckpointValueError(path: "model.safetensors", problem: .nonFiniteWeight(
                tensor: "b.as.stored", count: 3, elements: 4, firstIndex: 1, firstValue: "NaN")))
            XCTAssertEqual("\(error)", "model.safetensors: tensor \"b.as.stored\" holds 3 non-finite values (first: NaN at element 1 of 4); "
                + "the checkpoint is damaged, refused")
        }
        store.remove("b.canonical")
        XCTAssertNoThrow(try WeightValueCheck.checkFinite(store))
    }

    func testEpsilonsMustBeFinitePositiveFloat32Numbers() throws {
        for good in ["{}", #"{"layer_norm_eps": 1e-12}"#, #"{"layer_norm_eps": 1}"#, #"{"layer_norm_eps": null, "hidden_size": -3}"#,
                     #"{"rms_norm_eps": 1e-6, "batch_norm_epsilon": 0.001}"#] {
            XCTAssertNoThrow(try WeightValueCheck.checkEpsilons(JSONParser.parse(good), path: "c.json", origin: "config.json"), good)
        }
        for (bad, key) in [(#"{"layer_norm_eps": -1e-5}"#, "layer_norm_eps"), (#"{"layer_norm_eps": 0}"#, "layer_norm_eps"),
                           (#"{"layer_norm_eps": 1e-46}"#, "layer_norm_eps"), (#"{"layer_norm_eps": 1e39}"#, "layer_norm_eps"),
                           (#"{"layer_norm_eps": "1e-5"}"#, "layer_norm_eps"), (#"{"eps": true}"#, "eps"),
                           (#"{"feat_extract_norm_eps": -0.0}"#, "feat_extract_norm_eps")] {
            XCTAssertThrowsError(try WeightValueCheck.checkEpsilons(JSONParser.parse(bad), path: "c.json", origin: "config.json"), bad) { error in
                guard case let .invalidEpsilon(k, _, origin)? = (error as? CheckpointValueError)?.problem else { return XCTFail("\(error)") }
                XCTAssertEqual(k, key)
                XCTAssertEqual(origin, "config.json")
                XCTAssertTrue("\(error)".hasPrefix("c.json: config.json \"\(key)\" is "), "\(error)")
            }
        }
    }
}
