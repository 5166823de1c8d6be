import Contracts
import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import ServiceLifecycle

/// Logging, metrics and tracing are process-wide: bootstrapped once, by `main`.
public enum Observability {
    private static let registryBox = RegistryBox()

    /// Sets up logging (text, or JSON lines with `LOG_FORMAT=json`), the Prometheus registry
    /// (`METRICS=off` leaves every metric a no-op and `/metrics` empty, to measure what they cost)
    /// and, when an OTLP endpoint is configured, the tracer (see `Telemetry`).
    @discardableResult
    public static func bootstrap(_ configuration: ServiceConfiguration) -> PrometheusCollectorRegistry {
        let format: LogFormat = configuration.string("log.format")?.lowercased() == "json" ? .json : .text
        let settings = Settings(
            metrics: configuration.string("metrics")?.lowercased() != "off",
            accessLog: configuration.string("access.log")?.lowercased() != "off",
            trust: (try? IncomingTraceTrust(
                configuration.string("trace.incoming"),
                trustedProxies: (try? ClientAddressResolver(configuration: configuration.string("trusted.proxies") ?? ""))?.trustedProxies ?? []))
                ?? .none)
        let registry = registryBox.bootstrapOnce(level: configuration.logLevel, format: format, service: configuration.service.rawValue, settings: settings)
        var logger = Logger(label: "syllabus.\(configuration.service.rawValue).otel")
        logger.logLevel = .warning
        registryBox.setTracing(Telemetry.bootstrapTracing(service: configuration.service.rawValue, environment: ProcessInfo.processInfo.environment, logger: logger))
        return registry
    }

    /// Sets up text logging at `level` and the Prometheus metrics registry; safe to call more than once.
    @discardableResult
    public static func bootstrap(level: Logger.Level) -> PrometheusCollectorRegistry {
        registryBox.bootstrapOnce(level: level, format: .text, service: nil, settings: Settings())
    }

    /// The registry `/metrics` renders.
    public static var registry: PrometheusCollectorRegistry { registryBox.bootstrapOnce(level: nil, format: .text, service: nil, settings: Settings()) }

    /// Whether metrics are recorded (`METRICS`, on by default).
    public static var metricsEnabled: Bool { registryBox.settings.metrics }

    /// Whether every request is logged (`ACCESS_LOG`, on by default).
    public static var accessLog: Bool { registryBox.settings.accessLog }

    /// Whose `traceparent` a request may continue (`TRACE_INCOMING`).
    public static var incomingTraceTrust: IncomingTraceTrust { registryBox.settings.trust }

    /// The service that exports spans, when tracing is on: it runs beside the server.
    static var tracingService: (any Service)? { registryBox.tracing }

    struct Settings: Sendable {
        var metrics = true
        var accessLog = true
        var trust = IncomingTraceTrust.all
    }
}

enum LogFormat {
    case text, json
}

private final class RegistryBox: @unchecked Sendable {
    private let lock = NSLock()
    private var registry: PrometheusCollectorRegistry?
    private var current = Observability.Settings()
    private var tracingService: (any Service)?

    var settings: Observability.Settings { lock.withLock { current } }
    var tracing: (any Service)? { lock.withLock { tracingService } }

    func setTracing(_ service: (any Service)?) {
        lock.withLock { if tracingService == nil { tracingService = service } }
    }

    func bootstrapOnce(level: Logger.Level?, format: LogFormat, service: String?, settings: Observability.Settings) -> PrometheusCollectorRegistry {
        lock.withLock {
            if let registry { return registry }
            let registry = PrometheusCollectorRegistry()
            let logLevel = level ?? .info
            LoggingSystem.bootstrap(
                { label, provider in
                    switch format {
                    case .text:
                        var handler = StreamLogHandler.standardError(label: label, metadataProvider: provider)
                        handler.logLevel = logLevel
                        return handler
                    case .json:
                        var handler = JSONLogHandler(label: label, service: service, metadataProvider: provider)
                        handler.logLevel = logLevel
                        return handler
                    }
                }, metadataProvider: .syllabus)
            if settings.metrics { MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry)) }
            current = settings
            self.registry = registry
            return registry
        }
    }
}

/// The readiness of a service: each check says whether one dependency works now.
public struct HealthChecks: Sendable {
    public typealias Check = @Sendable () async -> Bool
    private var checks: [(String, Check)] = []

    public init() {}

    public mutating func add(_ name: String, _ check: @escaping Check) {
        checks.append((name, check))
    }

    /// Runs every check concurrently.
    public func evaluate() async -> [String: Bool] {
        await withTaskGroup(of: (String, Bool).self) { group in
            for (name, check) in checks {
                group.addTask { (name, await check()) }
            }
            var results: [String: Bool] = [:]
            for await (name, ok) in group { results[name] = ok }
            return results
        }
    }
}

/// `/health/live`, `/health/ready` and `/metrics`, the same on every service.
public enum StandardRoutes {
    public static func add<Context: RequestContext>(to router: Router<Context>, service: String, health: HealthChecks, openAPI: String?) {
        router.get("/health/live") { _, _ in
            jsonResponse(.ok, ["status": "live", "service": service])
        }
        router.get("/health/ready") { _, _ in
            let results = await health.evaluate()
            let ready = results.values.allSatisfy { $0 }
            var body: [String: Any] = ["status": ready ? "ready" : "not_ready", "service": service]
            body["checks"] = results.mapValues { $0 ? "up" : "down" }
            return jsonResponse(ready ? .ok : .serviceUnavailable, body)
        }
        router.get("/metrics") { _, _ in
            var buffer: [UInt8] = []
            Observability.registry.emit(into: &buffer)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }
        if let openAPI {
            router.get("/openapi.yaml") { _, _ in
                Response(
                    status: .ok, headers: [.contentType: "application/yaml"],
                    body: .init(byteBuffer: ByteBuffer(string: openAPI)))
            }
        }
    }

    static func jsonResponse(_ status: HTTPResponse.Status, _ object: [String: Any]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Encodes a value as a JSON response with the given status.
public struct JSONResponse<Value: Encodable & Sendable>: ResponseGenerator, Sendable {
    public var status: HTTPResponse.Status
    public var value: Value
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status = .ok, _ value: Value, headers: HTTPFields = [:]) {
        self.status = status
        self.value = value
        self.headers = headers
    }

    public static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(RFC3339.format(date))
        }
        return encoder
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        let data = try Self.encoder.encode(value)
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
