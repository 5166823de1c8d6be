import Database
import Foundation
import Hummingbird
import Logging
import ServiceKit
import ServiceLifecycle

/// What billing's routes need; made by `buildBillingApplication`, or by a test.
public struct BillingDependencies: Sendable {
    public var database: DatabasePool
    public var verifier: TokenVerifier
    public var settings: BillingSettings
    public var logger: Logger

    public init(database: DatabasePool, verifier: TokenVerifier, settings: BillingSettings, logger: Logger) {
        self.database = database
        self.verifier = verifier
        self.settings = settings
        self.logger = logger
    }

    var store: BillingStore {
        BillingStore(database: database, catalogue: settings.catalogue, canRefresh: settings.stripeSecretKey != nil, logger: logger)
    }
}

/// Billing's routes, each in the group of who may call it.
public func buildBillingRouter(_ dependencies: BillingDependencies) -> Router<ServiceRequestContext> {
    let routes = ServiceRuntime.routes(verifier: dependencies.verifier)
    let settings = dependencies.settings
    let payments = Payments(
        store: dependencies.store, stripe: settings.stripe, catalogue: settings.catalogue, appURL: settings.appURL)
    WebhookController(payments: payments, secret: settings.webhookSecret, livemode: settings.livemode).add(to: routes)
    SubscriptionController(payments: payments).add(to: routes)
    return routes.router
}

/// Builds the billing service from its configuration: every dependency is made here.
public func buildBillingApplication(_ configuration: ServiceConfiguration) async throws -> some ApplicationProtocol {
    let settings = try BillingSettings.load(from: configuration)
    let runtime = try await ServiceRuntime.start(configuration, migrations: BillingMigrations.all)
    let dependencies = BillingDependencies(
        database: runtime.database, verifier: try await runtime.tokenVerifier(), settings: settings, logger: runtime.logger)
    let store = dependencies.store
    var services: [any Service] = [
        PeriodicTask("stripe-event-retention", every: .seconds(3600)) {
            try await store.forgetPayloads(receivedBefore: Date().addingTimeInterval(-Double(settings.stripeEventRetentionDays) * 86_400))
        }
    ]
    if let stripe = settings.stripe {
        services.append(StripeWorker(store: dependencies.store, stripe: stripe, logger: runtime.logger).service)
    }
    return runtime.application(
        router: buildBillingRouter(dependencies), consumer: try runtime.consumer(BillingHandlers.all), services: services,
        openAPI: BillingOpenAPI.document)
}
