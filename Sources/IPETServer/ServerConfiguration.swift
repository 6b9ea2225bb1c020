import Foundation

/// What `ipet serve` was asked to do, in the library's own terms (the command line maps its options onto these).
/// Every limit exists so that memory and latency stay bounded whatever clients send.
public struct ServerConfiguration: Sendable {
    /// Interface to listen on; loopback unless asked otherwise, so a server is never exposed by accident.
    public var host = "127.0.0.1"
    /// TCP port; 0 lets the system choose a free one (the listening line reports it).
    public var port = 8080
    /// Most windows one model call takes, across requests.
    public var maxBatch = 8
    /// How long the first request of a batch waits for others to join it: a few ms of latency buys throughput.
    public var batchWait: Duration = .milliseconds(5)
    /// Most requests admitted and waiting for the model at once; beyond that clients are told to retry later
    /// instead of queueing without bound.
    public var maxQueue = 64
    /// Largest request body accepted, in bytes.
    public var maxBodyBytes = 64 << 20
    /// Longest a request may take from admission to answer; past it the client gets 504 and its work is dropped.
    public var requestTimeout: Duration = .seconds(60)
    /// Bearer token that pack changes need; nil disables them (packs are then fixed at start).
    public var adminToken: String?
    /// Longest audio a request may carry, in seconds once decoded. Bounds what one upload costs in memory and time
    /// whatever its encoding: without it a few kilobytes (a FLAC of silence, a WAV header claiming 1 Hz) decode
    /// and resample to hours of audio.
    public var maxAudioSeconds = 600.0
    /// How long a connection may send nothing while its request is incomplete (a stalled header or body), or sit
    /// idle between requests, before it is closed. Without it a client that stops mid-request holds its connection,
    /// and a file descriptor, forever, and thousands of them starve the server; graceful shutdown also waited for
    /// them. Connections whose request is complete and being answered are never closed by it.
    public var idleTimeout: Duration = .seconds(30)
    /// Threads that decode uploads and compute features, beside the compute threads.
    public var decodeThreads = 1

    public init() {}
}
