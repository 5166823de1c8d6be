import Contracts
import Foundation
import Hummingbird
import ServiceKit

/// `/v1/billing/…`: the caller's subscription, Checkout and the customer portal, and the
/// admins' figures.
struct SubscriptionController: Sendable {
    let payments: Payments

    func add(to routes: RouteGroups) {
        routes.learner.get("/v1/billing/subscription", use: show)
        routes.learner.post("/v1/billing/checkout", use: checkout)
        routes.learner.post("/v1/billing/portal", use: portal)
        routes.admin.get("/v1/billing/admin/metrics", use: metrics)
    }

    struct Overview: Encodable, Sendable {
        var hasAccess: Bool
        var tier: Tier
        var subscription: SubscriptionState?
    }

    @Sendable func show(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<Overview> {
        let caller = try context.user
        let overview = try await payments.overview(of: caller.id)
        return JSONResponse(.ok, Overview(hasAccess: overview.hasAccess, tier: overview.tier, subscription: overview.subscription))
    }

    struct CheckoutRequest: Decodable {
        var tier: String?
        var interval: String?
    }

    struct CheckoutAnswer: Encodable, Sendable {
        var sessionId: String
        var url: String
    }

    @Sendable func checkout(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<CheckoutAnswer> {
        let caller = try context.user
        let input = try await request.decode(as: CheckoutRequest.self, context: context)
        let session = try await payments.checkout(user: caller.id, tier: input.tier, interval: input.interval, logger: context.logger)
        return JSONResponse(.created, CheckoutAnswer(sessionId: session.id, url: session.url))
    }

    struct PortalAnswer: Encodable, Sendable {
        var url: String
    }

    @Sendable func portal(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<PortalAnswer> {
        let caller = try context.user
        return JSONResponse(.created, PortalAnswer(url: try await payments.portal(user: caller.id, logger: context.logger)))
    }

    @Sendable func metrics(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<BillingStore.Metrics> {
        JSONResponse(.ok, try await payments.metrics(now: Date()))
    }
}
