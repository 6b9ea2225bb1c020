import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A body sent with `Transfer-Encoding: chunked` (no Content-Length) that would never end: the server must answer
/// 413 once it has read past `--max-body-mb`, without reading the rest, and stay up. Written on a raw socket, because
/// an HTTP client library decides for itself when to stop uploading; here the test decides, and counts the bytes.
final class ChunkedUploadTests: XCTestCase {
    func testEndlessChunkedBodyGets413AfterTheLimitAndTheServerStaysUp() async throws {
        let clip = try DemoServer.bytes(DemoServer.clips[0])
        _ = try await DemoServer.with(["--pack", DemoServer.keywords, "--max-body-mb", "1"]) { api, server in
            let port = try XCTUnwrap(URL(string: server.url)?.port)
            let limit = 1 << 20
            let (status, sent) = try Self.endlessChunkedUpload(port: port, path: "/v1/classify?pack=keywords", stopAfter: 64 << 20)
            print("chunked upload: 413 after \(sent) bytes sent (limit \(limit))")
            XCTAssertEqual(status, 413, "status of the endless upload")
            XCTAssertGreaterThan(sent, limit, "the answer came only after the limit was passed")
            XCTAssertLessThan(sent, 16 << 20, "the server answered without reading everything (\(sent) bytes sent)")
            let after = try await api.send(.POST, "/v1/classify?pack=keywords", body: clip)
            XCTAssertEqual(after.status, 200, "the server still answers: \(after.text)")
        }
    }

    /// Sends chunks of 64 KB until the server answers (or `stopAfter` bytes), then reads the status line.
    static func endlessChunkedUpload(port: Int, path: String, stopAfter: Int) throws -> (status: Int, sent: Int) {
        let fd = try LoopbackSocket.connect(port: port)
        defer { close(fd) }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))

        func write(_ bytes: [UInt8]) -> Bool {
            var offset = 0
            while offset < bytes.count {
                let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n <= 0 { return false }
                offset += n
            }
            return true
        }
        func answered() -> Bool {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            return poll(&poller, 1, 0) > 0
        }
        guard write(Array("POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)) else {
            throw POSIXError(.EPIPE)
        }
        let chunk = Array("10000\r\n".utf8) + [UInt8](repeating: 0x52, count: 0x10000) + Array("\r\n".utf8)
        var sent = 0
        while sent < stopAfter, !answered(), write(chunk) { sent += 0x10000 }
        var reply = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &reply, reply.count, 0)
        let head = n > 0 ? String(decoding: reply[0..<n], as: UTF8.self) : ""
        let status = head.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? -1
        return (status, sent)
    }
}
