import Database
import Foundation
import Hummingbird
import Logging
import ServiceKit

/// What analytics' routes need; made by `buildAnalyticsApplication`, or by a test.
public struct AnalyticsDependencies: Sendable {
    public var database: DatabasePool
    public var verifier: TokenVerifier
    public var settings: AnalyticsSettings
    public var logger: Logger

    public init(database: DatabasePool, verifier: TokenVerifier, settings: AnalyticsSettings, logger: Logger) {
        self.database = database
        self.verifier = verifier
        self.settings = settings
        self.logger = logger
    }
}

/// Analytics' routes, each in the group of who may call it.
public func buildAnalyticsRouter(_ dependencies: AnalyticsDependencies) -> Router<ServiceRequestContext> {
    let routes = ServiceRuntime.routes(verifier: dependencies.verifier)
    let settings = dependencies.settings
    CollectController(
        collecting: Collecting(
            store: CollectStore(database: dependencies.database),
            limits: RateLimits(perSession: settings.rateLimit, perAddress: settings.addressRateLimit)),
        clientAddresses: settings.clientAddresses
    ).add(to: routes)
    ReportsController(reports: Reports(database: dependencies.database)).add(to: routes)
    return routes.router
}

/// Builds the analytics service from its configuration: every dependency is made here.
public func buildAnalyticsApplication(_ configuration: ServiceConfiguration) async throws -> some ApplicationProtocol {
    let runtime = try await ServiceRuntime.start(configuration, migrations: AnalyticsMigrations.all)
    let settings = try AnalyticsSettings.load(from: configuration)
    let router = buildAnalyticsRouter(
        AnalyticsDependencies(database: runtime.database, verifier: try await runtime.tokenVerifier(), settings: settings, logger: runtime.logger))
    let retention = Retention(store: CollectStore(database: runtime.database), days: settings.retentionDays, logger: runtime.logger)
    let compaction = DrainingWorker("event-counts", idle: .seconds(10), backoff: .seconds(10), logger: runtime.logger) { [reports = Reports(database: runtime.database)] in
        try await reports.compactCounts()
        return false
    }
    return runtime.application(
        router: router, consumer: try runtime.consumer(AnalyticsHandlers.all), services: [retention.service, compaction],
        openAPI: AnalyticsOpenAPI.document)
}

/// Deletes events older than the retention period (and spent rate-limit windows), hourly.
struct Retention: Sendable {
    let store: CollectStore
    let days: Int
    let logger: Logger

    var service: DrainingWorker {
        DrainingWorker("retention", idle: .seconds(3600), backoff: .seconds(3600), logger: logger) { try await step(now: Date()) }
    }

    /// One sweep; the next is an hour away whatever it found.
    func step(now: Date) async throws -> Bool {
        let removed = try await store.sweep(olderThan: now.addingTimeInterval(-Double(days) * 86400), now: now)
        if removed > 0 { logger.info("retention removed old events", metadata: ["count": "\(removed)"]) }
        return false
    }
}
