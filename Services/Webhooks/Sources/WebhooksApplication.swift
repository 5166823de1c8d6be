import Database
import Foundation
import Hummingbird
import Logging
import ServiceKit

/// What webhooks' routes need; made by `buildWebhooksApplication`, or by a test.
public struct WebhooksDependencies: Sendable {
    public var database: DatabasePool
    public var verifier: TokenVerifier
    public var settings: WebhooksSettings
    /// An AMQP URL of a user who may read `events.archive` (the service's own).
    public var archiveURL: String
    public var logger: Logger

    public init(database: DatabasePool, verifier: TokenVerifier, settings: WebhooksSettings, archiveURL: String, logger: Logger) {
        self.database = database
        self.verifier = verifier
        self.settings = settings
        self.archiveURL = archiveURL
        self.logger = logger
    }
}

/// Webhooks' routes, each in the group of who may call it.
public func buildWebhooksRouter(_ dependencies: WebhooksDependencies) -> Router<ServiceRequestContext> {
    let routes = ServiceRuntime.routes(verifier: dependencies.verifier)
    EndpointsController(
        store: EndpointStore(database: dependencies.database), policy: dependencies.settings.policy,
        archive: ArchiveReader(url: dependencies.archiveURL, logger: dependencies.logger)
    ).add(to: routes)
    return routes.router
}

/// Builds the webhooks service from its configuration: every dependency is made here.
public func buildWebhooksApplication(_ configuration: ServiceConfiguration) async throws -> some ApplicationProtocol {
    let runtime = try await ServiceRuntime.start(configuration, migrations: WebhooksMigrations.all)
    let settings = try WebhooksSettings.load(from: configuration)
    let router = buildWebhooksRouter(
        WebhooksDependencies(
            database: runtime.database, verifier: try await runtime.tokenVerifier(), settings: settings, archiveURL: configuration.amqpURL,
            logger: runtime.logger))
    let dispatcher = Dispatcher(database: runtime.database, client: try WebhookClient(), settings: settings, logger: runtime.logger)
    let store = EndpointStore(database: runtime.database)
    let delivery = DrainingWorker(
        "webhook-delivery", channel: "webhook_deliveries", listenURL: configuration.databaseURL, idle: .seconds(5), logger: runtime.logger
    ) {
        try await dispatcher.step()
    }
    let gauges = PeriodicTask("webhook-gauges", every: .seconds(15)) { try await dispatcher.measure() }
    let retention = DrainingWorker("webhook-retention", idle: .seconds(3600), backoff: .seconds(3600), logger: runtime.logger) {
        let removed = try await store.sweep(olderThan: Date().addingTimeInterval(-Double(settings.retentionDays) * 86400))
        if removed > 0 { runtime.logger.info("retention removed delivered events", metadata: ["count": "\(removed)"]) }
        return false
    }
    // Webhooks keeps the archive its replays read: it copies every public event into the stream.
    let archiver = try Archiver(amqpURL: configuration.amqpURL, logger: runtime.logger)
    return runtime.application(
        router: router, consumer: try runtime.consumer(WebhooksHandlers.all), services: [delivery, gauges, retention, archiver],
        openAPI: WebhooksOpenAPI.document)
}
