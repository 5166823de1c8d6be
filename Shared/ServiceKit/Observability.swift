import Contracts
import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus

/// Logging and metrics are process-wide: bootstrapped once, by `main`.
public enum Observability {
    private static let registryBox = RegistryBox()

    /// Sets up logging at `level` and the Prometheus metrics registry; safe to call more than once.
    @discardableResult
    public static func bootstrap(level: Logger.Level) -> PrometheusCollectorRegistry {
        registryBox.bootstrapOnce(level: level)
    }

    /// The registry `/metrics` renders.
    public static var registry: PrometheusCollectorRegistry { registryBox.bootstrapOnce(level: nil) }
}

private final class RegistryBox: @unchecked Sendable {
    private let lock = NSLock()
    private var registry: PrometheusCollectorRegistry?

    func bootstrapOnce(level: Logger.Level?) -> PrometheusCollectorRegistry {
        lock.withLock {
            if let registry { return registry }
            let registry = PrometheusCollectorRegistry()
            let logLevel = level ?? .info
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = logLevel
                return handler
            }
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
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
