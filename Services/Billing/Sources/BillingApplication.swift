import Foundation
import Hummingbird
import ServiceKit
import ServiceLifecycle

/// Builds the billing service from its configuration: every dependency is made here.
public func buildBillingApplication(_ configuration: ServiceConfiguration) async throws -> some ApplicationProtocol {
    let runtime = try await ServiceRuntime.start(configuration, migrations: BillingMigrations.all)
    guard let secret = configuration.string("stripe.webhook.secret"), !secret.isEmpty else {
        throw ConfigurationError.missing("BILLING_STRIPE_WEBHOOK_SECRET")
    }
    let currency = configuration.string("currency", default: "gbp").lowercased()
    guard currency.count == 3, currency.allSatisfy({ $0.isASCII && $0.isLetter }) else {
        throw ConfigurationError.invalid("BILLING_CURRENCY must be a three-letter ISO code")
    }
    var catalogue = PriceCatalogue.default
    catalogue.currency = currency
    if let text = configuration.string("prices") {
        guard let parsed = PriceCatalogue.parse(text, currency: currency) else {
            throw ConfigurationError.invalid("BILLING_PRICES must be tier:INTERVAL:price_id:amount, comma-separated")
        }
        catalogue = parsed
    }
    let stripe = configuration.string("stripe.secret.key").flatMap { key in
        key.isEmpty ? nil : StripeClient(baseURL: configuration.string("stripe.api.url", default: "https://api.stripe.com"), secretKey: key)
    }
    let store = BillingStore(database: runtime.database, catalogue: catalogue, canRefresh: stripe != nil, logger: runtime.logger)
    let router = ServiceRuntime.router(context: BasicRequestContext.self)
    WebhookController(store: store, secret: secret, livemode: configuration.string("stripe.livemode") == "true").add(to: router)
    SubscriptionController(
        store: store, verifier: try await runtime.tokenVerifier(), stripe: stripe, catalogue: catalogue,
        appURL: configuration.string("app.url", default: "http://localhost:3000")
    ).add(to: router)
    var services: [any Service] = []
    if let stripe { services.append(StripeWorker(database: runtime.database, store: store, stripe: stripe, logger: runtime.logger)) }
    return runtime.application(router: router, consumer: try runtime.consumer(BillingHandlers.all), services: services, openAPI: BillingOpenAPI.document)
}
