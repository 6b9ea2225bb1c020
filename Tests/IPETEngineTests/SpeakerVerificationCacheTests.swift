import Foundation
import IPETEngine
import IPETFormats
import IPETTestSupport
import XCTest

/// The embedding cache `ipet verify` keeps: computed once per utterance through an `EmbeddingProvider`, then reused.
final class SpeakerVerificationCacheTests: XCTestCase {
    private struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// A provider that records the files it embedded; each file's embedding is [[count of its path's characters, 1]].
    private final class RecordingProvider: EmbeddingProvider {
        var files: [String] = []
        var failOn: String?
        func segmentEmbeddings(audioFile path: String) throws -> [[Float]] {
            if path == failOn { throw Failure(description: "\(path): truncated file") }
            files.append(path)
            return [[Float(path.count), 1], [1, Float(path.count)]]
        }
    }

    private func copyOfFixtureCache() throws -> String {
        let path = Fixtures.temporaryDirectory().appendingPathComponent("cache.safetensors").path
        try FileManager.default.copyItem(atPath: Fixtures.path("verification/embeddings/embeddings.safetensors"), toPath: path)
        return path
    }

    func testOnlyMissingUtterancesAreComputedAndSaved() throws {
        let path = Fixtures.temporaryDirectory().appendingPathComponent("new.safetensors").path
        let cache = try SpeakerEmbeddingCache(path: path)  // no file yet: starts empty
        XCTAssertTrue(cache.embeddings.isEmpty)
        let provider = RecordingProvider()
        var made = 0
        let items = [(key: "a.wav", audio: "/audio/a.wav"), (key: "bb.wav", audio: "/audio/bb.wav")]
        try cache.fill(items, makeProvider: { made += 1; return provider })
        XCTAssertEqual(provider.files, ["/audio/a.wav", "/audio/bb.wav"])
        XCTAssertEqual(cache.unsaved, 2)
        try cache.save(metadata: [("ipet.pack", "speaker.ipet")])
        XCTAssertEqual(cache.unsaved, 0)

        let reopened = try SpeakerEmbeddingCache(path: path)
        XCTAssertEqual(reopened.embeddings["bb.wav"], [[13, 1], [1, 13]])
        XCTAssertEqual(try SafeTensorsFile(path: path).metadataValue("ipet.pack"), "speaker.ipet")
        try reopened.fill(items + [(key: "c.wav", audio: "/audio/c.wav")], makeProvider: { made += 1; return provider })
        XCTAssertEqual(provider.files.last, "/audio/c.wav")
        XCTAssertEqual(provider.files.count, 3)
        XCTAssertEqual(made, 2)
    }

    func testNothingMissingNeverBuildsAProvider() throws {
        let cache = try SpeakerEmbeddingCache(path: try copyOfFixtureCache())
        XCTAssertEqual(cache.embeddings.count, 8)
        try cache.fill([(key: "id001/a/00001.wav", audio: "x.wav")], makeProvider: {
            XCTFail("the provider must not be built when every embedding is cached")
            return RecordingProvider()
        })
        XCTAssertEqual(cache.missing(["id001/a/00001.wav", "new.wav"]), ["new.wav"])
        XCTAssertEqual(cache.unsaved, 0)
    }

    func testAFailingFileIsNamedAndEarlierWorkIsKept() throws {
        let path = try copyOfFixtureCache()
        let cache = try SpeakerEmbeddingCache(path: path)
        let provider = RecordingProvider()
        provider.failOn = "/audio/2.wav"
        let items = [(key: "1.wav", audio: "/audio/1.wav"), (key: "2.wav", audio: "/audio/2.wav"), (key: "3.wav", audio: "/audio/3.wav")]
        XCTAssertThrowsError(try cache.fill(items, makeProvider: { provider })) { error in
            XCTAssertEqual("\(error)", "/audio/2.wav: truncated file")
        }
        try cache.save()
        let reopened = try SpeakerEmbeddingCache(path: path)
        XCTAssertEqual(reopened.embeddings.count, 9)
        XCTAssertNotNil(reopened.embeddings["1.wav"])
        XCTAssertEqual(reopened.missing(items.map(\.key)), ["2.wav", "3.wav"])
    }

    func testCachedAndComputedEmbeddingsScoreTogether() throws {
        let cache = try SpeakerEmbeddingCache(path: try copyOfFixtureCache())
        let provider = ClosureEmbeddingProvider { _ in [[Float](repeating: 0.25, count: 16)] }
        try cache.fill([(key: "new.wav", audio: "new.wav")], makeProvider: { provider })
        let trials = [VerificationTrial(isTarget: false, enrol: "id001/a/00001.wav", test: "new.wav")]
        let scores = try SpeakerTrialScorer(embeddings: cache.subset(["id001/a/00001.wav", "new.wav"]), rule: .cosine).scores(trials)
        XCTAssertEqual(scores[0], try SpeakerScoringRule.cosine.score(cache.embeddings["id001/a/00001.wav"]!, [[Float](repeating: 1, count: 16)]),
                       accuracy: 1e-12)
    }
}
