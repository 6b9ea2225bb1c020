import AsyncHTTPClient
import Foundation
import IPETTestSupport
import XCTest

/// SIGTERM under load: the server stops accepting, answers every request it admitted (each one 200), exits 0 and
/// says so; requests sent after it stopped accepting fail to connect and were never admitted.
final class GracefulShutdownTests: XCTestCase {
    func testSigtermDuringLoadAnswersEveryAdmittedRequestAndExitsZero() async throws {
        let server = try ServerProcess(["--backbone", DemoServer.backbone, "--pack", DemoServer.keywords, "--pack", DemoServer.sounds,
                                        "--threads", "2", "--batch-wait-ms", "20"])
        // A refused connection is retried by the client until its connect timeout: keep that short.
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(timeout: .init(connect: .seconds(1))))
        let api = APIClient(base: server.url, client: client)
        let clips = DemoServer.clips
        let firstAnswer = DispatchSemaphore(value: 0)
        let started = ContinuousClock.now
        let counter = RequestCounter(total: 120)
        let refused = RequestCounter(total: 1)
        let statuses = try await withThrowingTaskGroup(of: [Int].self) { group -> [Int] in
            for worker in 0..<8 {
                group.addTask {
                    var mine: [Int] = []
                    // Once a connection is refused the server has stopped accepting: no more requests are sent.
                    while refused.taken == 0, let n = counter.next() {
                        do {
                            let reply = try await api.send(.POST, "/v1/classify?pack=keywords&pack=sounds",
                                                           body: try DemoServer.bytes(clips[(n + worker) % clips.count]), timeout: .seconds(30))
                            mine.append(reply.status)
                            firstAnswer.signal()
                        } catch {
                            mine.append(0)   // not admitted: the server no longer accepted connections
                            _ = refused.next()
                        }
                    }
                    return mine
                }
            }
            group.addTask {
                _ = firstAnswer.wait(timeout: .now() + 30)
                print("first answer after \(ContinuousClock.now - started); SIGTERM")
                kill(server.process.processIdentifier, SIGTERM)
                return []
            }
            var all: [Int] = []
            for try await part in group { all += part }
            return all
        }
        print("all requests done after \(ContinuousClock.now - started): \(statuses.filter { $0 == 200 }.count) answered, \(statuses.filter { $0 == 0 }.count) refused")
        try await client.shutdown()
        let status = server.stop(timeout: 60)
        XCTAssertEqual(status, 0, "exit status after SIGTERM; stderr: \(server.stderr)")
        XCTAssertLessThanOrEqual(statuses.count, 120)
        XCTAssertTrue(statuses.allSatisfy { $0 == 200 || $0 == 0 }, "only answers or refused connections: \(Set(statuses))")
        let answered = statuses.filter { $0 == 200 }.count
        XCTAssertGreaterThan(answered, 0)
        // "ipet serve: stopped; N requests admitted, N answered"
        let line = try XCTUnwrap(server.stderr.split(separator: "\n").last { $0.hasPrefix("ipet serve: stopped") }, server.stderr)
        let numbers = line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        XCTAssertEqual(numbers.count, 2, String(line))
        XCTAssertEqual(numbers.first, numbers.last, "every admitted request answered: \(line)")
        XCTAssertEqual(numbers.first, answered, "the server's count of admitted requests equals the 200s the clients got: \(line)")
    }
}
