import Foundation
import Prometheus

/// The server's Prometheus metrics (`GET /metrics`): what an operator needs to size replicas and see trouble —
/// traffic and errors by route, latency, how full the queue and the batches are, which packs are used.
public final class ServerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let latency: DurationHistogram
    private let queueDepth: Gauge
    private let batchSize: ValueHistogram
    private let loadedPacks: Gauge

    static let latencyBuckets: [Duration] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000]
        .map { Duration.milliseconds($0) }

    public init() {
        latency = registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(namespace: "ipet", metricName: "http_request_duration", unitName: "seconds",
                                             helpText: "Time from a request's arrival to its answer."),
            labels: [], buckets: Self.latencyBuckets)
        queueDepth = registry.makeGauge(descriptor: MetricNameDescriptor(
            namespace: "ipet", metricName: "queue_depth", unitName: "requests",
            helpText: "Requests admitted and waiting for the model."))
        batchSize = registry.makeValueHistogram(
            descriptor: MetricNameDescriptor(namespace: "ipet", metricName: "batch_size", unitName: "requests",
                                             helpText: "Requests computed together in one batch."),
            labels: [], buckets: [1, 2, 4, 8, 16, 32, 64])
        loadedPacks = registry.makeGauge(descriptor: MetricNameDescriptor(
            namespace: "ipet", metricName: "loaded_packs", unitName: "count", helpText: "Packs loaded on the backbone."))
    }

    /// One answered request: counted by route pattern (never the raw path, which would grow without bound) and
    /// status, and timed.
    public func recordRequest(route: String, status: Int, duration: Duration) {
        registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "ipet", metricName: "http_requests", unitName: "total",
                                                              helpText: "Requests answered, by route and status."),
                             labels: [("route", route), ("status", String(status))]).increment()
        latency.record(duration)
    }

    /// A pack was asked for by a classify or embed request.
    public func recordPackRequest(_ pack: String) {
        registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "ipet", metricName: "pack_requests", unitName: "total",
                                                              helpText: "Requests that asked for each pack."),
                             labels: [("pack", pack)]).increment()
    }

    public func setQueueDepth(_ n: Int) { queueDepth.set(Double(n)) }
    public func recordBatch(requests: Int) { batchSize.record(Double(requests)) }
    public func setLoadedPacks(_ n: Int) { loadedPacks.set(Double(n)) }

    /// The exposition text.
    public func text() -> String { registry.emitToString() }
}
