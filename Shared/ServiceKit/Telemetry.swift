import Database
import Foundation
import Hummingbird
import NIOCore
import Logging
import OTel
import ServiceLifecycle
import Tracing

/// Tracing: spans exported over OTLP (HTTP/protobuf) when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, nothing otherwise; the other `OTEL_*` variables
/// (service name, sampler, batch processor, headers, certificates) are honoured as the
/// OpenTelemetry specification defines them.
public enum Telemetry {
    /// Installs the tracer when an endpoint is configured and returns the service that exports
    /// its spans (it runs in the service group and flushes on shutdown).
    public static func bootstrapTracing(service: String, environment: [String: String], logger: Logger) -> (any Service)? {
        let endpoint = environment["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] ?? environment["OTEL_EXPORTER_OTLP_ENDPOINT"]
        guard let endpoint, !endpoint.isEmpty, environment["OTEL_SDK_DISABLED"]?.lowercased() != "true",
            environment["OTEL_TRACES_EXPORTER"].map({ $0 == "otlp" }) ?? true
        else { return nil }
        var configuration = OTel.Configuration.default
        configuration.serviceName = service
        configuration.traces.otlpExporter.protocol = .httpProtobuf
        configuration.metrics.enabled = false
        configuration.logs.enabled = false
        configuration.diagnosticLogger = .custom(logger)
        do {
            let tracing = try OTel.makeTracingBackend(configuration: configuration)
            InstrumentationSystem.bootstrap(tracing.factory)
            TraceContext.setRecording(true)
            return tracing.service
        } catch {
            logger.error("tracing is off: its configuration is invalid", metadata: ["error": "\(error)"])
            return nil
        }
    }
}

/// Whose `traceparent` a request may continue (`TRACE_INCOMING`): `all` (the default), `trusted`
/// (only from `TRUSTED_PROXIES`, e.g. a gateway that starts or checks traces), or `none` (every
/// request starts a trace of its own).
public enum IncomingTraceTrust: Sendable, Equatable {
    case all
    case trusted([IPNetwork])
    case none

    public init(_ text: String?, trustedProxies: [IPNetwork]) throws {
        switch text?.lowercased() ?? "all" {
        case "all", "": self = .all
        case "trusted": self = .trusted(trustedProxies)
        case "none": self = .none
        default: throw ConfigurationError.invalid("TRACE_INCOMING must be all, trusted or none")
        }
    }

    func allows(_ peer: IPAddress?) -> Bool {
        switch self {
        case .all: true
        case .none: false
        case .trusted(let networks): peer.map { peer in networks.contains { $0.contains(peer) } } ?? false
        }
    }
}

/// A span per request (named by the route's template, which never carries a secret; the path
/// itself is not recorded), continuing the caller's `traceparent` when it is trusted; and one
/// access log line per request with its status and duration, within the span (so it carries the
/// trace and span ids).
public struct RequestTracing<Context: RequestContext>: RouterMiddleware {
    let trust: IncomingTraceTrust
    let accessLog: Bool

    public init(trust: IncomingTraceTrust = Observability.incomingTraceTrust, accessLog: Bool = Observability.accessLog) {
        self.trust = trust
        self.accessLog = accessLog
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let route = context.endpointPath ?? "unknown"
        // Probes and scrapes come every few seconds from the platform: neither traced nor logged.
        if unobservedRoutes.contains(route) { return try await next(request, context) }
        guard TraceContext.isRecording else {
            guard accessLog else { return try await next(request, context) }
            return try await logged(request, route: route, context: context, next: next)
        }
        var parent = ServiceContext.topLevel
        if let traceparent = Self.header("traceparent", of: request),
            trust.allows((context as? any RemoteAddressRequestContext)?.remoteAddress.flatMap(IPAddress.init(socketAddress:)))
        {
            parent = TraceContext.context(traceparent: traceparent, tracestate: Self.header("tracestate", of: request))
        }
        parent[RouteKey.self] = route
        return try await withSpan("\(request.method.rawValue) \(route)", context: parent, ofKind: .server) { span in
            span.attributes["http.request.method"] = request.method.rawValue
            span.attributes["http.route"] = route
            let response = try await logged(request, route: route, context: context, next: next)
            span.attributes["http.response.status_code"] = Int(response.status.code)
            if response.status.code >= 500 { span.setStatus(SpanStatus(code: .error)) }
            return response
        }
    }

    static func header(_ name: String, of request: Request) -> String? {
        request.headers.first { $0.name.canonicalName == name }?.value
    }

    private func logged(
        _ request: Request, route: String, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard accessLog else { return try await next(request, context) }
        let started = ContinuousClock.now
        var status = 500
        defer {
            let elapsed = ContinuousClock.now - started
            let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
            context.logger.info(
                "request",
                metadata: [
                    "method": "\(request.method.rawValue)", "route": "\(route)", "status": "\(status)",
                    "duration_ms": "\(String(format: "%.3f", milliseconds))",
                ])
        }
        do {
            let response = try await next(request, context)
            status = Int(response.status.code)
            return response
        } catch let error as any HTTPResponseError {
            status = Int(error.status.code)
            throw error
        }
    }
}

/// Probes and scrapes: neither traced nor logged.
let unobservedRoutes: Set<String> = ["/health/live", "/health/ready", "/metrics"]

/// The route template of the request being served, for log lines.
enum RouteKey: ServiceContextKey {
    typealias Value = String
    static var nameOverride: String? { "route" }
}

extension IPAddress {
    init?(socketAddress: SocketAddress) {
        guard let ip = socketAddress.ipAddress else { return nil }
        self.init(ip)
    }
}
