import Hummingbird
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// How a service stops, on SIGTERM or SIGINT, losing nothing:
///
/// 1. It reports not ready at once (`/health/ready`: `accepting` down) and goes on serving for the
///    drain (`SHUTDOWN_DRAIN_SECONDS`), so that a load balancer polling readiness stops sending it
///    requests before it stops taking them.
/// 2. The HTTP server stops taking connections and finishes the requests it has.
/// 3. The consumer stops taking deliveries and finishes its batches; what it had not acknowledged
///    goes back to its queue when its channel closes. The relay finishes its round; what it had
///    not published stays in the outbox for the next relay.
/// 4. The pools close.
public enum GracefulShutdown {
    private static let draining = Atomic<Bool>(false)

    /// Whether the service is stopping (and says so on its readiness).
    public static var isDraining: Bool { draining.load(ordering: .relaxed) }

    static func startDraining() { draining.store(true, ordering: .relaxed) }
}

/// Waits for the signal, then turns readiness off and holds the rest of the shutdown back for
/// `duration`. It runs after the application in one group, so that it is asked to stop first.
struct ShutdownDrain: Service {
    let duration: Duration
    let logger: Logger

    func run() async throws {
        do {
            try await gracefulShutdown()
        } catch {
            return // cancelled: the application ended on its own
        }
        GracefulShutdown.startDraining()
        logger.notice("stopping: not ready, still serving for the drain", metadata: ["drainSeconds": "\(duration.components.seconds)"])
        try? await Task.sleep(for: duration)
    }
}

extension ApplicationProtocol {
    /// Runs the service until SIGTERM or SIGINT, then stops it in order (see `GracefulShutdown`).
    public func runService(draining drain: Duration) async throws {
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: self), .init(service: ShutdownDrain(duration: drain, logger: logger))],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
    }
}

private let maxConcurrentRequests = Atomic<Int>(256)

/// Sets the limit the service's routers admit at once (from its configuration, at start).
func setMaxConcurrentRequests(_ limit: Int) { maxConcurrentRequests.store(limit, ordering: .relaxed) }

/// Refuses what is beyond `limit` requests handled at once with 503 `overloaded` and
/// `Retry-After`, rather than queueing without end and answering everyone late. Health and
/// metrics are always answered.
public struct LoadShedding<Context: RequestContext>: RouterMiddleware {
    final class Gauge: Sendable {
        let inFlight = Atomic<Int>(0)
    }

    let limit: Int
    let gauge = Gauge()
    let shed = Counter(label: "http_requests_shed_total")

    public init(limit: Int) {
        self.limit = limit
    }

    /// `MAX_CONCURRENT_REQUESTS` of the running service (256 until it starts).
    public static var processLimit: Int { maxConcurrentRequests.load(ordering: .relaxed) }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.uri.path.hasPrefix("/health/") || request.uri.path == "/metrics" {
            return try await next(request, context)
        }
        let (_, inFlight) = gauge.inFlight.add(1, ordering: .relaxed)
        defer { gauge.inFlight.subtract(1, ordering: .relaxed) }
        guard inFlight <= limit else {
            shed.increment()
            throw Problem.overloaded
        }
        return try await next(request, context)
    }
}
