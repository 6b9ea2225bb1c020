import Foundation
import IPETTestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// What one client may hold: a connection that stalls mid-request is closed after `--idle-timeout-s` (it used to be
/// held forever, and twenty thousand of them took every descriptor), and a small upload that decodes to hours of
/// audio is refused at `--max-audio-s` instead of taking gigabytes.
final class ConnectionLimitsTests: XCTestCase {
    /// A request whose headers stop half-way, and one whose body stops half-way, are both closed by the server
    /// within the idle timeout (1 s here), while a normal request on a fresh connection is still answered.
    func testStalledRequestsAreClosedAfterTheIdleTimeout() async throws {
        let clip = try DemoServer.bytes(DemoServer.clips[0])
        _ = try await DemoServer.with(["--pack", DemoServer.keywords, "--idle-timeout-s", "1"]) { api, server in
            let port = try XCTUnwrap(URL(string: server.url)?.port)
            let stalls = [
                "POST /v1/classify?pack=keywords HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le",
                "POST /v1/classify?pack=keywords HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\nRIFF",
            ]
            for stall in stalls {
                let start = Date()
                let closedAfter = try Self.secondsUntilClosed(port: port, sending: stall, giveUpAfter: 20)
                let waited = Date().timeIntervalSince(start)
                XCTAssertNotNil(closedAfter, "a stalled request kept its connection for \(waited) s: \(stall.debugDescription)")
                if let closedAfter { XCTAssertLessThan(closedAfter, 10, "closed only after \(closedAfter) s") }
            }
            let reply = try await api.send(.POST, "/v1/classify?pack=keywords", body: clip)
            XCTAssertEqual(reply.status, 200, reply.text)
        }
    }

    /// A 16-bit WAV whose header says 1 Hz: 20 000 samples (40 KB) are 5.6 hours, 320 million samples once
    /// resampled to 16 kHz. With `--max-audio-s 60` it is answered 400 naming the limit, quickly, and the server
    /// goes on answering.
    func testUploadsLongerThanTheAudioLimitAreRefused() async throws {
        let clip = try DemoServer.bytes(DemoServer.clips[0])
        let bomb = Self.wav(rate: 1, samples: 20_000)
        _ = try await DemoServer.with(["--pack", DemoServer.keywords, "--max-audio-s", "60"]) { api, _ in
            let start = Date()
            let reply = try await api.send(.POST, "/v1/classify?pack=keywords", body: bomb)
            XCTAssertEqual(reply.status, 400, reply.text)
            XCTAssertTrue(reply.text.contains("60 s"), reply.text)
            XCTAssertLessThan(Date().timeIntervalSince(start), 10)
            let after = try await api.send(.POST, "/v1/classify?pack=keywords", body: clip)
            XCTAssertEqual(after.status, 200, after.text)
        }
    }

    /// A chunked body with a malformed chunk-size line is the client's error: 400, not 500.
    func testAMalformedChunkSizeIsABadRequest() async throws {
        _ = try await DemoServer.with(["--pack", DemoServer.keywords]) { _, server in
            let port = try XCTUnwrap(URL(string: server.url)?.port)
            let request = "POST /v1/classify?pack=keywords HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "zz\r\nRIFF\r\n0\r\n\r\n"
            let head = try Self.reply(port: port, sending: request)
            XCTAssertTrue(head.hasPrefix("HTTP/1.1 400"), head)
        }
    }

    /// Limits out of range are refused at start.
    func testBadLimitsAreRefusedBeforeListening() throws {
        for args in [["--max-audio-s", "0"], ["--idle-timeout-s", "-1"], ["--max-audio-s", "nan"], ["--idle-timeout-s", "1e9"]] {
            let result = try CommandRunner.run(["serve", "--backbone", DemoServer.backbone, "--port", "0"] + args, timeout: 60)
            XCTAssertEqual(result.status, 64, "\(args): \(result.stderr)")
        }
    }

    /// A mono 16-bit PCM WAV of a quiet ramp at `rate` Hz.
    static func wav(rate: Int, samples: Int) -> [UInt8] {
        func le32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xFF) } }
        func le16(_ v: Int) -> [UInt8] { (0..<2).map { UInt8((v >> (8 * $0)) & 0xFF) } }
        var bytes = Array("RIFF".utf8) + le32(36 + 2 * samples) + Array("WAVE".utf8)
        bytes += Array("fmt ".utf8) + le32(16) + le16(1) + le16(1) + le32(rate) + le32(2 * rate) + le16(2) + le16(16)
        bytes += Array("data".utf8) + le32(2 * samples)
        for i in 0..<samples { bytes += le16((i % 200) * 10) }
        return bytes
    }

    /// Connects, sends `text`, and returns the first bytes of the answer (empty if the connection closed first).
    static func reply(port: Int, sending text: String) throws -> String {
        let fd = try LoopbackSocket.connect(port: port)
        defer { close(fd) }
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let bytes = Array(text.utf8)
        guard bytes.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == bytes.count else {
            throw POSIXError(.EPIPE)
        }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buffer, buffer.count, 0)
        return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : ""
    }

    /// Connects, sends `text`, and waits for the server to close the connection: the seconds it took, or nil
    /// when it was still open after `giveUpAfter` seconds.
    static func secondsUntilClosed(port: Int, sending text: String, giveUpAfter: Int) throws -> Double? {
        let fd = try LoopbackSocket.connect(port: port)
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard bytes.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == bytes.count else {
            throw POSIXError(.EPIPE)
        }
        let start = Date()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while Date().timeIntervalSince(start) < Double(giveUpAfter) {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 250) > 0 else { continue }
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { return Date().timeIntervalSince(start) }  // closed (an answer before it, e.g. 408, is fine)
        }
        return nil
    }
}
