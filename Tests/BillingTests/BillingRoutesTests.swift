import Contracts
import Database
import Foundation
import Hummingbird
import HummingbirdTesting
import ServiceKit
import ServiceTesting
import Testing
import TestSupport

@testable import Billing

/// Billing's routes in process, over a migrated schema: Stripe's webhook as Stripe signs it, and
/// what a learner and an admin then read.
@Suite(.serialized) struct BillingRoutesTests {
    static let secret = "whsec_routes_test"

    struct Fixture: Sendable {
        let pool: DatabasePool
        let tokens: TestTokens
    }

    func withBilling(_ body: (Fixture, Router<ServiceRequestContext>) async throws -> Void) async throws {
        let tokens = try await TestTokens()
        try await withMigratedSchema(BillingMigrations.all) { pool, _ in
            let router = buildBillingRouter(
                .init(database: pool, verifier: tokens.verifier, settings: BillingSettings(webhookSecret: Self.secret), logger: TestEnvironment.logger))
            try await body(Fixture(pool: pool, tokens: tokens), router)
        }
    }

    static func subscriptionCreated(user: UUID, id: String = "evt_routes_1", created: Int64 = Int64(Date().timeIntervalSince1970)) -> [UInt8] {
        Array(#"""
            {"id":"\#(id)","object":"event","type":"customer.subscription.created","created":\#(created),"livemode":false,
             "data":{"object":{"id":"sub_routes1","object":"subscription","customer":"cus_routes1","status":"active","cancel_at_period_end":false,
               "metadata":{"userId":"\#(user.lowercased)"},
               "items":{"data":[{"price":{"id":"price_pro_monthly"},"current_period_start":1800000000,"current_period_end":1802592000}]}}}}
            """#.utf8)
    }

    func deliver(_ body: [UInt8], to client: some TestClientProtocol, signature: String? = nil) async throws -> TestResponse {
        let header = signature ?? WebhookSignature.header(body: body, secret: Self.secret, timestamp: Int64(Date().timeIntervalSince1970))
        return try await client.execute(
            uri: "/v1/billing/webhooks/stripe", method: .post, headers: [.init("Stripe-Signature")!: header, .contentType: "application/json"],
            body: ByteBuffer(bytes: body))
    }

    static func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
    }

    @Test func aSignedWebhookIsAppliedOnceWithItsEvents() async throws {
        try await withBilling { f, router in
            let user = UUID()
            try await Application(router: router).test(.router) { client in
                let body = Self.subscriptionCreated(user: user)
                let first = try await deliver(body, to: client)
                #expect(first.status == .ok)
                #expect(try Self.json(first)["outcome"] as? String == "applied")
                let again = try await deliver(body, to: client)
                #expect(try Self.json(again)["outcome"] as? String == "duplicate")
            }
            let row = try #require(try await f.pool.query("SELECT user_id, status, tier, billing_interval, amount FROM subscriptions").first)
            #expect(try row.decode("user_id", as: UUID?.self) == user)
            #expect(try row.decode("status", as: String.self) == "ACTIVE")
            #expect(try row.decode("tier", as: String?.self) == "pro")
            #expect(try row.decode("amount", as: Int?.self) == 4900)
            let keys = try await f.pool.query("SELECT routing_key FROM outbox ORDER BY id").map { try $0.decode("routing_key", as: String.self) }
            #expect(keys == ["billing.subscription.activated.v1", "billing.entitlement.changed.v1"])
        }
    }

    @Test func aWrongSignatureIsRefusedAndNothingIsRecorded() async throws {
        try await withBilling { f, router in
            try await Application(router: router).test(.router) { client in
                let body = Self.subscriptionCreated(user: UUID())
                let forged = WebhookSignature.header(body: body, secret: "whsec_someone_else", timestamp: Int64(Date().timeIntervalSince1970))
                let response = try await deliver(body, to: client, signature: forged)
                #expect(response.status == .badRequest)
                #expect(try Self.json(response)["code"] as? String == "signature_invalid")
                let unsigned = try await client.execute(uri: "/v1/billing/webhooks/stripe", method: .post, body: ByteBuffer(bytes: body))
                #expect(try Self.json(unsigned)["code"] as? String == "signature_missing")
            }
            #expect(try await f.pool.query("SELECT 1 FROM stripe_events").isEmpty)
            #expect(try await f.pool.query("SELECT 1 FROM outbox").isEmpty)
        }
    }

    @Test func anInvoiceBeforeItsSubscriptionAsksStripeToSendItAgain() async throws {
        try await withBilling { f, router in
            try await Application(router: router).test(.router) { client in
                let body = Array(#"""
                    {"id":"evt_routes_inv","type":"invoice.paid","created":1800000000,"livemode":false,
                     "data":{"object":{"id":"in_1","subscription":"sub_unknown","amount_paid":4900,"currency":"gbp"}}}
                    """#.utf8)
                let response = try await deliver(body, to: client)
                #expect(response.status == .conflict)
                #expect(try Self.json(response)["code"] as? String == "subscription_not_yet_known")
            }
            #expect(try await f.pool.query("SELECT 1 FROM stripe_events").isEmpty, "refused events are not recorded, so the retry is applied")
        }
    }

    @Test func aLearnerReadsTheirOwnSubscription() async throws {
        try await withBilling { f, router in
            let user = UUID()
            try await Application(router: router).test(.router) { client in
                let nobody = try await client.execute(uri: "/v1/billing/subscription", method: .get, headers: [.authorization: try await f.tokens.bearer()])
                #expect(try Self.json(nobody)["hasAccess"] as? Bool == false)
                #expect(try Self.json(nobody)["tier"] as? String == "free")

                _ = try await deliver(Self.subscriptionCreated(user: user), to: client)
                let mine = try await client.execute(
                    uri: "/v1/billing/subscription", method: .get, headers: [.authorization: try await f.tokens.bearer(for: user)])
                #expect(mine.status == .ok)
                let answer = try Self.json(mine)
                #expect(answer["hasAccess"] as? Bool == true)
                #expect(answer["tier"] as? String == "pro")
                let subscription = try #require(answer["subscription"] as? [String: Any])
                #expect(subscription["status"] as? String == "ACTIVE")
                #expect(subscription["interval"] as? String == "MONTHLY")
            }
        }
    }

    @Test func checkoutIsCheckedThenNeedsStripe() async throws {
        try await withBilling { f, router in
            try await Application(router: router).test(.router) { client in
                let learner = try await f.tokens.bearer()
                let invalid = try await client.execute(
                    uri: "/v1/billing/checkout", method: .post, headers: [.authorization: learner, .contentType: "application/json"],
                    body: ByteBuffer(string: #"{"tier":"free","interval":"WEEKLY"}"#))
                #expect(invalid.status == .unprocessableContent)
                let fields = try #require(try Self.json(invalid)["errors"] as? [[String: Any]]).compactMap { $0["field"] as? String }
                #expect(fields == ["tier", "interval"])
                let unconfigured = try await client.execute(
                    uri: "/v1/billing/checkout", method: .post, headers: [.authorization: learner, .contentType: "application/json"],
                    body: ByteBuffer(string: #"{"tier":"pro","interval":"MONTHLY"}"#))
                #expect(unconfigured.status == .serviceUnavailable)
                #expect(try Self.json(unconfigured)["code"] as? String == "payments_unavailable")
                let portal = try await client.execute(uri: "/v1/billing/portal", method: .post, headers: [.authorization: learner])
                #expect(portal.status == .notFound)
                #expect(try Self.json(portal)["code"] as? String == "no_customer")
            }
        }
    }

    @Test func metricsAreForAdminsOnly() async throws {
        try await withBilling { f, router in
            try await Application(router: router).test(.router) { client in
                _ = try await deliver(Self.subscriptionCreated(user: UUID()), to: client)
                let learner = try await client.execute(
                    uri: "/v1/billing/admin/metrics", method: .get, headers: [.authorization: try await f.tokens.bearer(role: "USER")])
                #expect(learner.status == .forbidden)
                #expect(try Self.json(learner)["code"] as? String == "admin_only")
                let admin = try await client.execute(
                    uri: "/v1/billing/admin/metrics", method: .get, headers: [.authorization: try await f.tokens.bearer(role: "ADMIN")])
                #expect(admin.status == .ok)
                let metrics = try Self.json(admin)
                #expect(metrics["mrr"] as? Int == 4900)
                #expect(metrics["active"] as? Int == 1)
                #expect(metrics["currency"] as? String == "gbp")
            }
        }
    }
}
