import Contracts
import Foundation
import Hummingbird
import ServiceKit

/// `/v1/billing/…`: the caller's subscription, Checkout and the customer portal, and the
/// admins' figures.
struct SubscriptionController: Sendable {
    let store: BillingStore
    let verifier: TokenVerifier
    let stripe: StripeClient?
    let catalogue: PriceCatalogue
    let appURL: String

    func add(to router: Router<BasicRequestContext>) {
        router.get("/v1/billing/subscription", use: show)
        router.post("/v1/billing/checkout", use: checkout)
        router.post("/v1/billing/portal", use: portal)
        router.get("/v1/billing/admin/metrics", use: metrics)
    }

    struct Overview: Encodable, Sendable {
        var hasAccess: Bool
        var tier: String
        var subscription: SubscriptionState?
    }

    @Sendable func show(_ request: Request, context: BasicRequestContext) async throws -> JSONResponse<Overview> {
        let caller = try await verifier.authenticate(request)
        let overview = try await store.overview(caller.id)
        return JSONResponse(.ok, Overview(hasAccess: overview.hasAccess, tier: overview.tier, subscription: overview.subscription))
    }

    func client() throws -> StripeClient {
        guard let stripe else {
            throw Problem(.serviceUnavailable, code: "payments_unavailable", title: "Payments are not configured (BILLING_STRIPE_SECRET_KEY)")
        }
        return stripe
    }

    struct CheckoutRequest: Decodable {
        var tier: String?
        var interval: String?
    }

    struct CheckoutAnswer: Encodable, Sendable {
        var sessionId: String
        var url: String
    }

    @Sendable func checkout(_ request: Request, context: BasicRequestContext) async throws -> JSONResponse<CheckoutAnswer> {
        let caller = try await verifier.authenticate(request)
        let input = try await request.decode(as: CheckoutRequest.self, context: context)
        var errors: [FieldError] = []
        let tier = input.tier.flatMap(Tier.init(rawValue:))
        if tier == nil || tier == .free { errors.append(FieldError(field: "tier", code: "invalid_choice", message: "One of: starter, pro.")) }
        let interval = input.interval.flatMap(BillingInterval.init(rawValue:))
        if interval == nil { errors.append(FieldError(field: "interval", code: "invalid_choice", message: "One of: MONTHLY, ANNUAL.")) }
        guard errors.isEmpty, let tier, let interval else { throw Problem.validation(errors) }
        guard let price = catalogue.price(tier: tier, interval: interval) else {
            throw Problem(.unprocessableContent, code: "price_unavailable", title: "This plan is not on sale")
        }
        let overview = try await store.overview(caller.id)
        if overview.subscription.map({ SubscriptionStatus(rawValue: $0.status)?.grantsAccess ?? false }) == true {
            throw Problem(.conflict, code: "already_subscribed", title: "You already have a subscription; manage it in the customer portal")
        }
        let stripe = try client()
        do {
            var customer = try await store.customer(of: caller.id)
            if customer == nil {
                customer = try await store.saveCustomer(try await stripe.createCustomer(userID: caller.id, email: nil), for: caller.id)
            }
            let session = try await stripe.createCheckoutSession(
                customer: customer!, userID: caller.id, priceID: price.stripePriceID,
                successURL: "\(appURL)/billing/success?session_id={CHECKOUT_SESSION_ID}", cancelURL: "\(appURL)/billing/cancelled")
            return JSONResponse(.created, CheckoutAnswer(sessionId: session.id, url: session.url))
        } catch let error as StripeClient.Failure {
            context.logger.error("stripe checkout failed", metadata: ["error": "\(error)"])
            throw Problem(.badGateway, code: "payments_error", title: "The payment provider did not answer as expected")
        }
    }

    struct PortalAnswer: Encodable, Sendable {
        var url: String
    }

    @Sendable func portal(_ request: Request, context: BasicRequestContext) async throws -> JSONResponse<PortalAnswer> {
        let caller = try await verifier.authenticate(request)
        guard let customer = try await store.customer(of: caller.id) else {
            throw Problem(.notFound, code: "no_customer", title: "There is no billing account yet; subscribe first")
        }
        do {
            return JSONResponse(.created, PortalAnswer(url: try await client().createPortalSession(customer: customer, returnURL: "\(appURL)/account")))
        } catch let error as StripeClient.Failure {
            context.logger.error("stripe portal failed", metadata: ["error": "\(error)"])
            throw Problem(.badGateway, code: "payments_error", title: "The payment provider did not answer as expected")
        }
    }

    @Sendable func metrics(_ request: Request, context: BasicRequestContext) async throws -> JSONResponse<BillingStore.Metrics> {
        _ = try await verifier.authenticateAdmin(request)
        return JSONResponse(.ok, try await store.metrics(now: Date()))
    }
}
