import Contracts
import Database
import Foundation
import Hummingbird
import Logging
import MessageBus
import NIOCore
import ServiceLifecycle

/// What every service starts with: its schema migrated, a database pool, a confirming publisher
/// and the outbox relay. A service adds its routes and event handlers and gets an application.
public struct ServiceRuntime: Sendable {
    public let configuration: ServiceConfiguration
    public let logger: Logger
    public let database: DatabasePool
    public let publisher: AMQPPublisher
    public let relay: OutboxRelay
    private let topology: TopologyProbe

    public var service: ServiceName { configuration.service }

    /// Migrates the service's schema (as its owner), then opens the runtime pool and the publisher.
    public static func start(_ configuration: ServiceConfiguration, migrations: [Migration]) async throws -> ServiceRuntime {
        var logger = Logger(label: "syllabus.\(configuration.service.rawValue)")
        logger.logLevel = configuration.logLevel
        setMaxConcurrentRequests(configuration.maxConcurrentRequests)
        let schema = configuration.service.rawValue
        let migrationPool = DatabasePool(
            url: configuration.migrationDatabaseURL, size: 1, searchPath: schema, name: "\(schema)-migrate", logger: logger)
        defer { migrationPool.shutdown() }
        try await Migrator(schema: schema, migrations: migrations).migrate(migrationPool, logger: logger)

        let database = DatabasePool(
            url: configuration.databaseURL, size: configuration.databasePoolSize, searchPath: schema, name: schema,
            statementTimeout: configuration.statementTimeout, acquireTimeout: configuration.acquireTimeout, logger: logger)
        let publisher = try AMQPPublisher(url: configuration.amqpURL, name: schema, logger: logger)
        let relay = OutboxRelay(
            service: configuration.service, databaseURL: configuration.databaseURL, publisher: publisher, logger: logger)
        return ServiceRuntime(
            configuration: configuration, logger: logger, database: database, publisher: publisher, relay: relay,
            topology: TopologyProbe(url: configuration.amqpURL, exchange: configuration.service.exchange))
    }

    /// The access-token verifier of every service: the configured key set (`JWT_JWKS_FILE`), and
    /// the service's own projection of who was deleted and whose role changed, so a deleted
    /// user's tokens and tokens issued before a role change are refused on the next request
    /// (answered from the replica's `RevocationMemory` while it hears every change).
    public func tokenVerifier() async throws -> TokenVerifier {
        guard let file = configuration.jwksFile else { throw ConfigurationError.missing("JWT_JWKS_FILE") }
        let memory = RevocationMemory()
        _ = memory.follow(listenURL: configuration.databaseURL, logger: logger)
        return try await TokenVerifier.jwks(file: file).refusing(AccessRevocations.check(database, memory: memory))
    }

    /// A consumer of the service's queue with the given handlers.
    public func consumer(_ handlers: [EventHandler]) throws -> EventConsumerService {
        try EventConsumerService(
            service: service, amqpURL: configuration.amqpURL, prefetch: configuration.prefetch, database: database,
            publisher: publisher, retry: configuration.retryPolicy, lanes: configuration.consumerLanes,
            batchSize: configuration.consumerBatchSize, inboxRetention: .seconds(configuration.inboxRetentionDays * 86_400),
            handlers: handlers, logger: logger)
    }

    /// The readiness checks every service has: database, broker, and its own exchange declared.
    public func healthChecks(consumer: EventConsumerService? = nil) -> HealthChecks {
        var checks = HealthChecks()
        let database = self.database
        let publisher = self.publisher
        let topology = self.topology
        checks.add("database") { await database.ping() }
        checks.add("broker") { publisher.isConnected }
        // A broker under a memory or disk alarm blocks publishing: events wait in the outbox.
        checks.add("publishing") { publisher.blockedReason == nil }
        checks.add("topology") { await topology.isDeclared() }
        // Off from the moment the service is told to stop, while it still serves (the drain).
        checks.add("accepting") { !GracefulShutdown.isDraining }
        if let consumer {
            checks.add("consumer") { consumer.isConsuming }
        }
        return checks
    }

    /// The HTTP application: the service's routes plus the standard ones, problem+json errors,
    /// and the relay, the consumer and `services` run beside the server and stop with it.
    public func application<Context: RequestContext>(
        router: Router<Context>, consumer: EventConsumerService? = nil, services: [any Service] = [], openAPI: String? = nil
    ) -> some ApplicationProtocol where Context.Source == ApplicationRequestContextSource {
        StandardRoutes.add(to: router, service: service.rawValue, health: healthChecks(consumer: consumer), openAPI: openAPI)
        // Services stop in reverse order: the hook that closes the pool and the publisher goes
        // first in the list so that it runs last, after the relay and the consumer are done.
        var all: [any Service] = [ShutdownHook { [database, publisher] in
            publisher.shutdown()
            database.shutdown()
        }, relay]
        // The span exporter stops last, so that it flushes the spans of everything before it.
        if let tracing = Observability.tracingService { all.insert(tracing, at: 0) }
        if let consumer { all.append(consumer) }
        all += services
        return Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: configuration.httpIdleTimeout.map { .seconds($0.components.seconds) })),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: service.rawValue),
            services: all,
            logger: logger)
    }

    /// A router with the problem middleware and load shedding in place (Hummingbird applies a
    /// router's middleware to the routes added after it, so every route comes after these).
    /// - Parameter maxConcurrentRequests: what `LoadShedding` admits at once; by default the
    ///   process's `MAX_CONCURRENT_REQUESTS`.
    public static func router<Context: RequestContext>(
        context: Context.Type = ServiceRequestContext.self, maxConcurrentRequests: Int? = nil
    ) -> Router<Context> {
        let router = Router(context: Context.self)
        // Outermost, so that they see the status every request was answered with.
        if Observability.metricsEnabled { router.add(middleware: RequestMetrics<Context>()) }
        router.add(middleware: RequestTracing<Context>())
        router.add(middleware: ProblemMiddleware<Context>())
        router.add(middleware: NULRefusalMiddleware<Context>())
        // Inside the problem middleware: its refusal is answered as problem+json, and counted.
        router.add(middleware: LoadShedding<Context>(limit: maxConcurrentRequests ?? LoadShedding<Context>.processLimit))
        return router
    }

    /// A router with the problem middleware in place and its routes in groups by access.
    public static func routes(verifier: TokenVerifier) -> RouteGroups {
        RouteGroups(router(context: ServiceRequestContext.self), verifier: verifier)
    }
}

/// Runs `action` when the service group shuts down.
struct ShutdownHook: Service {
    let action: @Sendable () -> Void

    init(_ action: @escaping @Sendable () -> Void) {
        self.action = action
    }

    func run() async throws {
        try? await gracefulShutdown()
        action()
    }
}

/// Whether the service's exchange exists; remembered once seen, since the topology is declared
/// once and never removed.
final class TopologyProbe: @unchecked Sendable {
    private let url: String
    private let exchange: String
    private let lock = NSLock()
    private var seen = false

    init(url: String, exchange: String) {
        self.url = url
        self.exchange = exchange
    }

    func isDeclared() async -> Bool {
        if lock.withLock({ seen }) { return true }
        guard let admin = try? AMQPAdmin(url: url), (try? await admin.exchangeExists(exchange)) == true else { return false }
        lock.withLock { seen = true }
        return true
    }
}
