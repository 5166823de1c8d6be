import Database
import Foundation
import Hummingbird
import Logging
import ServiceKit
import ServiceLifecycle

/// Builds the analytics service from its configuration: every dependency is made here.
public func buildAnalyticsApplication(_ configuration: ServiceConfiguration) async throws -> some ApplicationProtocol {
    let runtime = try await ServiceRuntime.start(configuration, migrations: AnalyticsMigrations.all)
    let verifier = try await runtime.tokenVerifier()
    let rateLimit = configuration.int("rate.limit", default: 120)
    let retentionDays = configuration.int("retention.days", default: 730)
    guard rateLimit >= 1 else { throw ConfigurationError.invalid("ANALYTICS_RATE_LIMIT must be a whole number of at least 1") }
    guard retentionDays >= 1 else { throw ConfigurationError.invalid("ANALYTICS_RETENTION_DAYS must be a whole number of at least 1") }
    let addressRateLimit = configuration.int("address.rate.limit", default: 1200)
    guard addressRateLimit >= 1 else { throw ConfigurationError.invalid("ANALYTICS_ADDRESS_RATE_LIMIT must be a whole number of at least 1") }
    let clientAddresses = try ClientAddressResolver(
        configuration: configuration.string("trusted.proxies", default: ""), variable: configuration.variableName("trusted.proxies"))
    let router = ServiceRuntime.router(context: ServiceRequestContext.self)
    CollectController(
        database: runtime.database, verifier: verifier, rateLimit: rateLimit, addressRateLimit: addressRateLimit, clientAddresses: clientAddresses
    ).add(to: router)
    ReportsController(reports: Reports(database: runtime.database), verifier: verifier).add(to: router)
    let retention = Retention(database: runtime.database, days: retentionDays, logger: runtime.logger)
    return runtime.application(
        router: router, consumer: try runtime.consumer(AnalyticsHandlers.all), services: [retention], openAPI: AnalyticsOpenAPI.document)
}

/// Deletes events older than the retention period (and spent rate-limit windows), hourly.
final class Retention: Service, Sendable {
    let database: DatabasePool
    let days: Int
    let logger: Logger

    init(database: DatabasePool, days: Int, logger: Logger) {
        self.database = database
        self.days = days
        self.logger = logger
    }

    func sweep(now: Date) async throws -> Int {
        let cutoff = now.addingTimeInterval(-Double(days) * 86400)
        return try await database.transaction { connection in
            try connection.execute("DELETE FROM session_rates WHERE window_start < \(now.addingTimeInterval(-3600))")
            try connection.execute("DELETE FROM address_rates WHERE window_start < \(now.addingTimeInterval(-3600))")
            return try connection.execute("DELETE FROM events WHERE created_at < \(cutoff)").affectedRows
        }
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let removed = try await self.sweep(now: Date())
                    if removed > 0 { self.logger.info("retention removed old events", metadata: ["count": "\(removed)"]) }
                } catch {
                    self.logger.warning("retention sweep failed", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: .seconds(3600))
            }
        }
    }
}
