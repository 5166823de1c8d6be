import Contracts
import Foundation
import Logging
import ServiceKit

/// The use cases of billing's routes: a learner's subscription, Checkout and the portal, the
/// admins' figures, and Stripe's webhook events. Each loads and saves through the store, asks
/// the rules, and calls Stripe outside any transaction.
struct Payments: Sendable {
    let store: BillingStore
    let stripe: StripeClient?
    let catalogue: PriceCatalogue
    let appURL: String

    static let paymentsError = DomainError(.upstreamFailed, code: "payments_error", title: "The payment provider did not answer as expected")

    func overview(of user: UUID) async throws -> BillingStore.Overview {
        try await store.overview(user)
    }

    func client() throws -> StripeClient {
        guard let stripe else {
            throw DomainError(.unavailable, code: "payments_unavailable", title: "Payments are not configured (BILLING_STRIPE_SECRET_KEY)")
        }
        return stripe
    }

    /// A Checkout Session for the plan asked for, with a Stripe customer made for the user first
    /// if they have none.
    /// `logger` is the request's, so what is logged carries its id.
    func checkout(user: UUID, tier: String?, interval: String?, logger: Logger) async throws -> (id: String, url: String) {
        let (tier, interval) = try CheckoutRules.plan(tier: tier, interval: interval)
        guard let price = catalogue.price(tier: tier, interval: interval) else {
            throw DomainError(.unprocessable, code: "price_unavailable", title: "This plan is not on sale")
        }
        let overview = try await store.overview(user)
        guard CheckoutRules.mayCheckOut(currentStatus: overview.subscription?.status) else {
            throw DomainError(.conflict, code: "already_subscribed", title: "You already have a subscription; manage it in the customer portal")
        }
        let stripe = try client()
        do {
            var customer = try await store.customer(of: user)
            if customer == nil {
                customer = try await store.saveCustomer(try await stripe.createCustomer(userID: user, email: nil), for: user)
            }
            return try await stripe.createCheckoutSession(
                customer: customer!, userID: user, priceID: price.stripePriceID,
                successURL: "\(appURL)/billing/success?session_id={CHECKOUT_SESSION_ID}", cancelURL: "\(appURL)/billing/cancelled")
        } catch let error as StripeClient.Failure {
            logger.error("stripe checkout failed", metadata: ["error": "\(error)"])
            throw Self.paymentsError
        } catch let error as BillingStore.CustomerTaken {
            // Stripe never gives two users one customer; if it seems to, refuse rather than mix them.
            logger.error("stripe checkout failed", metadata: ["error": "customer \(error.customer) already belongs to another user"])
            throw Self.paymentsError
        }
    }

    /// A customer-portal session for the user's Stripe customer.
    func portal(user: UUID, logger: Logger) async throws -> String {
        guard let customer = try await store.customer(of: user) else {
            throw DomainError(.notFound, code: "no_customer", title: "There is no billing account yet; subscribe first")
        }
        do {
            return try await client().createPortalSession(customer: customer, returnURL: "\(appURL)/account")
        } catch let error as StripeClient.Failure {
            logger.error("stripe portal failed", metadata: ["error": "\(error)"])
            throw Self.paymentsError
        }
    }

    func metrics(now: Date) async throws -> BillingStore.Metrics {
        try await store.metrics(now: now)
    }

    /// A verified webhook event, applied once. Stripe retries non-2xx answers with backoff, so an
    /// event that came before its subscription is refused for now, and will be known by then.
    func receive(_ event: StripeEvent, payload: String, now: Date, logger: Logger) async throws -> BillingStore.Outcome {
        do {
            return try await store.process(event, payload: payload, now: now)
        } catch let error as BillingStore.NotYetKnown {
            logger.info(
                "stripe event before its subscription; asking for a retry", metadata: ["event": "\(event.id)", "subscription": "\(error.subscription)"])
            throw DomainError(.conflict, code: "subscription_not_yet_known", title: "This event's subscription is not known yet; send it again later")
        } catch let error as StripeObjectError {
            logger.warning("stripe event missing fields", metadata: ["event": "\(event.id)", "error": "\(error)"])
            throw DomainError(.malformed, code: "invalid_event", title: "The event lacks what its type needs", detail: "\(error)")
        }
    }
}
