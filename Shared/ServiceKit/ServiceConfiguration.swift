import Configuration
import Contracts
import Logging

/// What every service reads at start, from the environment. Each key is looked up under the
/// service's prefix first (`IDENTITY_DATABASE_URL`), then without it (`DATABASE_URL`), so one
/// environment file can serve the whole local stack and a lone deployment needs no prefixes.
public struct ServiceConfiguration: Sendable {
    public let service: ServiceName
    /// The runtime role's connection (no DDL).
    public let databaseURL: String
    /// The schema owner's connection, used for migrations only (defaults to `databaseURL`).
    public let migrationDatabaseURL: String
    public let amqpURL: String
    public let host: String
    public let port: Int
    public let databasePoolSize: Int
    /// How long one statement of a request or an event may run before the server cancels it
    /// (`DATABASE_STATEMENT_TIMEOUT_SECONDS`, 30; 0 for none): a request waiting on a lock is
    /// answered 503 rather than held without end.
    public let statementTimeout: Duration?
    /// How long a request or an event may wait for a free connection of the pool before it is
    /// answered 503 `unavailable` (or retried) without having run
    /// (`DATABASE_ACQUIRE_TIMEOUT_SECONDS`, 10; 0 for no limit).
    public let acquireTimeout: Duration?
    /// How long a connection may stay silent before the server closes it: between requests, or
    /// while a request's head or body is still arriving (`HTTP_IDLE_TIMEOUT_SECONDS`, 75; 0 for
    /// none). Longer than a proxy's own keep-alive (nginx: 60 s), so that the proxy closes first.
    public let httpIdleTimeout: Duration?
    /// Deliveries in flight to the consumer; lanes × batch size when not set.
    public let prefetch: Int?
    /// Events handled at once by the consumer (per-aggregate order is kept).
    public let consumerLanes: Int
    /// The most events one consumer transaction applies (`CONSUMER_BATCH_SIZE`).
    public let consumerBatchSize: Int
    /// Days an applied event's inbox rows are kept (`INBOX_RETENTION_DAYS`); longer than the
    /// archive's replay window (7 days), so replaying the archive is recognised as a replay.
    public let inboxRetentionDays: Int
    public let jwksFile: String?
    /// How long a stopping service reports not ready while still serving, before it stops taking
    /// requests (`SHUTDOWN_DRAIN_SECONDS`, 0): long enough for a load balancer to notice.
    public let shutdownDrain: Duration
    /// Requests handled at once; more are refused with 503 `overloaded` (`MAX_CONCURRENT_REQUESTS`, 256).
    public let maxConcurrentRequests: Int
    /// Retry tiers (must match the topology's, `RETRY_DELAYS`) and attempts before dead-lettering.
    public let retryPolicy: RetryPolicy
    public let logLevel: Logger.Level
    public let reader: ConfigReader

    public static let defaultPorts: [ServiceName: Int] = [
        .identity: 8081, .billing: 8082, .content: 8083, .progress: 8084, .notifications: 8085, .analytics: 8086, .webhooks: 8087,
    ]

    public init(service: ServiceName, reader: ConfigReader = ConfigReader(provider: EnvironmentVariablesProvider())) throws {
        self.service = service
        self.reader = reader
        func lookup(_ key: String) -> String? {
            reader.string(forKey: ConfigKey("\(service.rawValue).\(key)")) ?? reader.string(forKey: ConfigKey(key))
        }
        func required(_ key: String) throws -> String {
            guard let value = lookup(key), !value.isEmpty else {
                let variable = key.uppercased().replacingOccurrences(of: ".", with: "_")
                throw ConfigurationError.missing("\(service.rawValue.uppercased())_\(variable) or \(variable)")
            }
            return value
        }
        databaseURL = try required("database.url")
        migrationDatabaseURL = lookup("migration.database.url") ?? databaseURL
        amqpURL = try required("amqp.url")
        host = lookup("http.host") ?? "127.0.0.1"
        port = lookup("http.port").flatMap(Int.init) ?? Self.defaultPorts[service] ?? 8080
        databasePoolSize = lookup("database.pool.size").flatMap(Int.init) ?? 8
        /// Whole seconds, 0 (or less) for no limit.
        func limit(_ text: String?, default seconds: Int) -> Duration? {
            let seconds = text.flatMap(Int.init) ?? seconds
            return seconds > 0 ? .seconds(seconds) : nil
        }
        statementTimeout = limit(lookup("database.statement.timeout.seconds"), default: 30)
        acquireTimeout = limit(lookup("database.acquire.timeout.seconds"), default: 10)
        httpIdleTimeout = limit(lookup("http.idle.timeout.seconds"), default: 75)
        prefetch = lookup("amqp.prefetch").flatMap(Int.init)
        consumerLanes = lookup("consumer.lanes").flatMap(Int.init) ?? 4
        consumerBatchSize = max(1, lookup("consumer.batch.size").flatMap(Int.init) ?? 64)
        inboxRetentionDays = max(8, lookup("inbox.retention.days").flatMap(Int.init) ?? 14)
        jwksFile = lookup("jwt.jwks.file")
        shutdownDrain = .seconds(max(0, lookup("shutdown.drain.seconds").flatMap(Int.init) ?? 0))
        maxConcurrentRequests = max(1, lookup("max.concurrent.requests").flatMap(Int.init) ?? 256)
        let delays = lookup("retry.delays").map { text -> [Int] in RetryPolicy.delays(from: text) ?? [] } ?? RetryPolicy.default.delays
        guard !delays.isEmpty else { throw ConfigurationError.invalid("RETRY_DELAYS must be positive milliseconds, comma-separated") }
        retryPolicy = RetryPolicy(delays: delays, maxAttempts: max(1, lookup("max.attempts").flatMap(Int.init) ?? RetryPolicy.default.maxAttempts))
        logLevel = lookup("log.level").flatMap(Logger.Level.init(rawValue:)) ?? .info
    }

    /// A service-specific setting (`<SERVICE>_<KEY>` or `<KEY>`).
    public func string(_ key: String) -> String? {
        reader.string(forKey: ConfigKey("\(service.rawValue).\(key)")) ?? reader.string(forKey: ConfigKey(key))
    }

    /// The value, unless it is missing or empty (an empty variable means "not configured").
    public func nonEmpty(_ key: String) -> String? {
        string(key).flatMap { $0.isEmpty ? nil : $0 }
    }

    /// A comma-separated setting's entries, trimmed, empty ones left out (none when not set).
    public func list(_ key: String) -> [String] {
        (string(key) ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    public func string(_ key: String, default value: String) -> String {
        string(key) ?? value
    }

    public func int(_ key: String, default value: Int) -> Int {
        string(key).flatMap(Int.init) ?? value
    }
}

public enum ConfigurationError: Error, CustomStringConvertible {
    case missing(String)
    case invalid(String)

    public var description: String {
        switch self {
        case .missing(let name): "missing configuration: \(name)"
        case .invalid(let message): "invalid configuration: \(message)"
        }
    }
}
