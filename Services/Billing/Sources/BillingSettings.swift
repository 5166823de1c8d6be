import Foundation
import ServiceKit

/// Billing's own settings, read once at start (`BILLING_<KEY>` or `<KEY>`).
public struct BillingSettings: Sendable {
    /// `STRIPE_WEBHOOK_SECRET`: what Stripe signs webhooks with (required).
    public var webhookSecret: String
    /// `STRIPE_LIVEMODE`: whether the webhook takes live-mode events (else test-mode only).
    public var livemode: Bool
    /// `PRICES` and `CURRENCY`: what is on sale.
    public var catalogue: PriceCatalogue
    /// `STRIPE_SECRET_KEY`: without it payments are not configured (Checkout and the portal
    /// answer 503) and subscriptions are not read back from Stripe.
    public var stripeSecretKey: String?
    /// `STRIPE_API_URL`: Stripe's API (a local fake in tests).
    public var stripeAPIURL: String
    /// `APP_URL`: the web app, where Checkout and the portal send the user back.
    public var appURL: String
    /// `STRIPE_EVENT_RETENTION_DAYS`: how long a Stripe event's payload is kept (the record of the
    /// event, which makes a redelivery a duplicate, is kept for good).
    public var stripeEventRetentionDays: Int

    public init(
        webhookSecret: String, livemode: Bool = false, catalogue: PriceCatalogue = .default, stripeSecretKey: String? = nil,
        stripeAPIURL: String = "https://api.stripe.com", appURL: String = "http://localhost:3000", stripeEventRetentionDays: Int = 90
    ) {
        self.webhookSecret = webhookSecret
        self.livemode = livemode
        self.catalogue = catalogue
        self.stripeSecretKey = stripeSecretKey
        self.stripeAPIURL = stripeAPIURL
        self.appURL = appURL
        self.stripeEventRetentionDays = stripeEventRetentionDays
    }

    public static func load(from configuration: ServiceConfiguration) throws -> BillingSettings {
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
        let retentionDays = configuration.int("stripe.event.retention.days", default: 90)
        guard retentionDays >= 1 else { throw ConfigurationError.invalid("BILLING_STRIPE_EVENT_RETENTION_DAYS must be at least 1") }
        return BillingSettings(
            webhookSecret: secret, livemode: configuration.string("stripe.livemode") == "true", catalogue: catalogue,
            stripeSecretKey: configuration.nonEmpty("stripe.secret.key"),
            stripeAPIURL: configuration.string("stripe.api.url", default: "https://api.stripe.com"),
            appURL: configuration.string("app.url", default: "http://localhost:3000"), stripeEventRetentionDays: retentionDays)
    }

    /// Stripe's API, when a key is configured.
    public var stripe: StripeClient? {
        stripeSecretKey.map { StripeClient(baseURL: stripeAPIURL, secretKey: $0) }
    }
}
