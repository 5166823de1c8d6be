import Foundation
import Hummingbird
import Prometheus

/// The RED metrics of every HTTP route, in Prometheus's conventions:
/// `http_server_requests_total` and `http_server_request_duration_seconds` (a histogram), each
/// labelled by `route` (the route's template, such as `/v1/calendar-feeds/{token}`: never the
/// path itself, which may carry a secret and has no bound), `method` and `status`. A request no
/// route matches never reaches the router's middleware, so it is not counted here.
public struct RequestMetrics<Context: RequestContext>: RouterMiddleware {
    private let series = RequestSeries(registry: Observability.registry)

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        do {
            // Until the response is made: the services' bodies are built whole before it.
            let response = try await next(request, context)
            series.record(route: context.endpointPath, method: request.method, status: response.status.code, duration: ContinuousClock.now - started)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            series.record(route: context.endpointPath, method: request.method, status: status, duration: ContinuousClock.now - started)
            throw error
        }
    }
}

/// One counter and one histogram per route, method and status, made once.
final class RequestSeries: @unchecked Sendable {
    struct Key: Hashable {
        let route: String
        let method: String
        let status: Int
    }

    /// From 1 ms to 10 s: the range a request of ours can take before its timeout.
    static let buckets: [Duration] = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000].map { .microseconds(Int64($0 * 1000)) }

    private let registry: PrometheusCollectorRegistry
    private let lock = NSLock()
    private var made: [Key: (Prometheus.Counter, DurationHistogram)] = [:]

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    func record(route: String?, method: HTTPRequest.Method, status: Int, duration: Duration) {
        let key = Key(route: route ?? "unknown", method: method.rawValue, status: status)
        let (counter, histogram) = lock.withLock {
            if let known = made[key] { return known }
            let labels = [("route", key.route), ("method", key.method), ("status", String(key.status))]
            let fresh = (
                registry.makeCounter(name: "http_server_requests_total", labels: labels),
                registry.makeDurationHistogram(name: "http_server_request_duration_seconds", labels: labels, buckets: Self.buckets)
            )
            made[key] = fresh
            return fresh
        }
        counter.increment()
        histogram.record(duration)
    }
}
