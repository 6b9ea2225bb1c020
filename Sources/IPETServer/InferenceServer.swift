import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// `ipet serve` as a library: the Hummingbird application over an `InferenceService`, run in a service group that
/// stops on SIGTERM or SIGINT by refusing new connections, answering every request in flight, then computing
/// whatever is still queued.
public enum InferenceServer {
    /// Runs until a signal stops it. `onListening` gets the URL once the server listens and the backbone is loaded
    /// (clients may send requests from then on).
    public static func run(configuration: ServerConfiguration, loader: @escaping @Sendable () throws -> InferenceService.Loaded,
                           onListening: @escaping @Sendable (String) -> Void,
                           onStopped: @escaping @Sendable (InferenceService) -> Void = { _ in }) async throws {
        let announcement = ReadyAnnouncement(onListening)
        let service = InferenceService(configuration: configuration, loader: loader, onReady: { announcement.ready() })
        let router = Router()
        router.add(middleware: ErrorMiddleware(metrics: service.metrics))
        ServerRoutes(service: service).register(on: router)
        var logger = Logger(label: "ipet.serve")
        logger.logLevel = .warning
        let host = configuration.host
        let app = Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: .nanoseconds(Self.nanoseconds(configuration.idleTimeout)))),
            configuration: .init(address: .hostname(host, port: configuration.port), serverName: "ipet"),
            services: [service],
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.port
                let shownHost = host.contains(":") ? "[\(host)]" : host
                announcement.listening("http://\(shownHost):\(port)")
            },
            logger: logger)
        try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
        onStopped(service)
    }

    /// A `Duration` in whole nanoseconds, for NIO's `TimeAmount`.
    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds.multipliedReportingOverflow(by: 1_000_000_000).overflow ? .max
            : seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
