import AsyncHTTPClient
import Contracts
import Crypto
import Foundation
import MessageBus
import NIOCore
import NIOHTTP1
import Testing
import TestSupport

/// Stripe → billing → the bus, with signed webhooks shaped like Stripe's and a fake Stripe API.
extension EndToEndTests {
    struct BillingJourneyTests {}
}

extension EndToEndTests.BillingJourneyTests {
    static func sign(_ body: String, secret: String, at time: Int64 = Int64(Date().timeIntervalSince1970)) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(time).\(body)".utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return "t=\(time),v1=\(mac.map { String(format: "%02x", $0) }.joined())"
    }

    static func event(_ type: String, created: Int64, object: String, id: String = "evt_\(UUID().uuidString.prefix(12))", livemode: Bool = false) -> String {
        #"{"id":"\#(id)","object":"event","api_version":"2025-03-31.basil","type":"\#(type)","created":\#(created),"livemode":\#(livemode),"data":{"object":\#(object)}}"#
    }

    static func subscription(_ id: String, customer: String, status: String, price: String, user: String? = nil, start: Int64 = 1_800_000_000, newShape: Bool = true) -> String {
        let metadata = user.map { #"{"userId":"\#($0)"}"# } ?? "{}"
        let periods = #""current_period_start":\#(start),"current_period_end":\#(start + 2_592_000)"#
        let item = newShape ? #"{"id":"si_1","price":{"id":"\#(price)"},\#(periods)}"# : #"{"id":"si_1","price":{"id":"\#(price)"}}"#
        return #"{"id":"\#(id)","object":"subscription","customer":"\#(customer)","status":"\#(status)","cancel_at_period_end":false,"canceled_at":null,"metadata":\#(metadata),"items":{"object":"list","data":[\#(item)]}\#(newShape ? "" : "," + periods)}"#
    }

    @Test func stripeDrivesSubscriptionsEntitlementsAndMRR() async throws {
        let journey = try await BillingJourney()
        let stripe = journey.stripe
        try await runJourney(serving: { try await stripe.application().runService() }, journey.run, finish: journey.finish)
    }
}

/// The billing journey's state and steps (kept out of one long closure, which the compiler
/// handles badly).
final class BillingJourney: @unchecked Sendable {
    let stripe = FakeStripe(port: 9799)
    let processes: ServiceProcesses
    let http = HTTPClient(eventLoopGroupProvider: .singleton)
    let api: JSONClient
    let secret: String
    let admin: AMQPAdmin
    let tap = "e2e.billing.\(UUID().uuidString.prefix(8).lowercased())"
    let received = Received()

    init() async throws {
        processes = try ServiceProcesses(portBase: 9780)
        api = JSONClient(client: http)
        secret = try TestEnvironment.value("BILLING_STRIPE_WEBHOOK_SECRET")
        admin = try AMQPAdmin(url: try TestEnvironment.value("ADMIN_AMQP_URL"))
        try await admin.declareQueue(tap, durable: false)
        try await admin.bind(queue: tap, exchange: "billing.events", routingKey: "billing.#")
    }

    func finish() async throws {
        try await http.shutdown()
        try await admin.deleteQueue(tap)
    }

    func billingEvents(_ key: String, where match: (String) -> Bool) async throws -> [IncomingMessage] {
        received.add(try await admin.drain(queue: tap, limit: 1000))
        return received.all.filter { $0.routingKey == key && match(String(decoding: $0.body, as: UTF8.self)) }
    }

    func billing(_ path: String) -> String { processes.url("billing", path) }

    func webhook(_ body: String, signature: String? = nil) async throws -> JSONClient.Answer {
        var request = HTTPClientRequest(url: billing("/v1/billing/webhooks/stripe"))
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "stripe-signature", value: signature ?? EndToEndTests.BillingJourneyTests.sign(body, secret: secret))
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await http.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        return JSONClient.Answer(
            status: Int(response.status.code),
            body: (try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView))) as? [String: Any] ?? [:],
            headers: response.headers)
    }

    func outcome(_ body: String) async throws -> String? {
        try await webhook(body).body["outcome"] as? String
    }

    func code(_ body: String, signature: String? = nil) async throws -> String? {
        try await webhook(body, signature: signature).code
    }

    func register(_ name: String) async throws -> (id: String, token: String) {
        let answer = try await api.send(.POST, processes.url("identity", "/v1/auth/register"),
            json: #"{"email":"\#(name).\#(UUID().uuidString.prefix(6).lowercased())@example.com","password":"a long password","name":"\#(name)"}"#)
        return (try #require((answer.body["user"] as? [String: Any])?["id"] as? String), try #require(answer.body["accessToken"] as? String))
    }

    func subscriptionField(_ token: String, _ field: String) async throws -> Any? {
        (try await api.send(.GET, billing("/v1/billing/subscription"), token: token).body["subscription"] as? [String: Any])?[field]
    }

    typealias Journey = EndToEndTests.BillingJourneyTests

    func run() async throws {
        let processes = self.processes
        let api = self.api
        let stripe = self.stripe
        let secret = self.secret
        try processes.start(["BILLING_STRIPE_SECRET_KEY": stripe.secretKey, "BILLING_STRIPE_API_URL": stripe.baseURL])
        defer { processes.stop() }
        try await processes.waitUntilReady(api)

        // Checkout through the fake Stripe: the customer and the session carry the user.
        let learner = try await register("learner")
        let checkout = try await api.send(.POST, billing("/v1/billing/checkout"), json: #"{"tier":"pro","interval":"MONTHLY"}"#, token: learner.token)
        #expect(checkout.status == 201, "\(checkout.body)")
        #expect((checkout.body["url"] as? String)?.hasPrefix("https://checkout.stripe.test/") == true)
        let created = try #require(stripe.requests.first { $0.path == "/v1/customers" })
        #expect(created.form["metadata[userId]"] == learner.id)
        #expect(created.version == "2025-03-31.basil", "requests pin Stripe-Version")
        let session = try #require(stripe.requests.first { $0.path == "/v1/checkout/sessions" })
        #expect(session.form["client_reference_id"] == learner.id)
        #expect(session.form["subscription_data[metadata][userId]"] == learner.id)
        #expect(session.form["line_items[0][price]"] == "price_pro_monthly")
        #expect(try await api.send(.POST, billing("/v1/billing/checkout"), json: #"{"tier":"free","interval":"DAILY"}"#, token: learner.token).status == 422)
        let customer = stripe.id("cus", 1)
        let subA = stripe.id("sub", 0)

        // The subscription arrives before checkout.session.completed: it links by billing's own
        // customer record, and the entitlement crosses the bus.
        let t0 = Int64(Date().timeIntervalSince1970)
        let createdEvent = Journey.event("customer.subscription.created", created: t0, object: Journey.subscription(subA, customer: customer, status: "active", price: "price_pro_monthly"))
        let first = try await webhook(createdEvent)
        #expect(first.status == 200)
        #expect(first.body["outcome"] as? String == "applied")
        var granted: [IncomingMessage] = []
        try await eventually("billing.entitlement.changed.v1 with access") {
            granted = try await billingEvents("billing.entitlement.changed.v1") { $0.contains(learner.id) && $0.contains(#""hasAccess":true"#) }
            return !granted.isEmpty
        }
        let entitlement = try EventCoding.decode(CloudEvent<BillingEntitlementChangedV1>.self, from: granted[0].body)
        #expect(entitlement.data == BillingEntitlementChangedV1(userId: learner.id, hasAccess: true, tier: .pro, reason: "subscription"))
        let validation = try validateEvents(granted.map(\.body))
        #expect(validation.valid, "\(validation.output)")
        #expect(try await webhook(Journey.event("checkout.session.completed", created: t0 + 1,
            object: #"{"id":"\#(stripe.id("cs", 2))","object":"checkout.session","customer":"\#(customer)","subscription":"\#(subA)","client_reference_id":"\#(learner.id)"}"#)).status == 200)

        // A replayed event changes nothing.
        let replay = try await webhook(createdEvent)
        #expect(replay.status == 200)
        #expect(replay.body["outcome"] as? String == "duplicate")

        // Out of order: an older update after a newer one is ignored.
        #expect(try await webhook(Journey.event("customer.subscription.updated", created: t0 + 20,
            object: Journey.subscription(subA, customer: customer, status: "past_due", price: "price_pro_monthly", newShape: false)))
            .body["outcome"] as? String == "applied")
        let stale = try await webhook(Journey.event("customer.subscription.updated", created: t0 + 10,
            object: Journey.subscription(subA, customer: customer, status: "canceled", price: "price_pro_monthly")))
        #expect(stale.body["outcome"] as? String == "stale")
        let mine = try await api.send(.GET, billing("/v1/billing/subscription"), token: learner.token)
        #expect((mine.body["subscription"] as? [String: Any])?["status"] as? String == "PAST_DUE")
        #expect(mine.body["hasAccess"] as? Bool == true, "past due keeps access while Stripe retries")
        #expect((mine.body["subscription"] as? [String: Any])?["currentPeriodEnd"] as? String != nil, "periods from the older API shape too")

        // Two events in one second cannot be ordered: billing reads the subscription back.
        stripe.setSubscription(subA, json: Journey.subscription(subA, customer: customer, status: "past_due", price: "price_pro_monthly"))
        #expect(try await outcome(Journey.event("customer.subscription.updated", created: t0 + 20,
            object: Journey.subscription(subA, customer: customer, status: "unpaid", price: "price_pro_monthly"))) == "applied")
        try await eventually(timeout: .seconds(15), "the subscription read back from Stripe") {
            try await subscriptionField(learner.token, "status") as? String == "PAST_DUE"
                && stripe.requests.contains { $0.method == "GET" && $0.path == "/v1/subscriptions/\(subA)" }
        }

        // Payments: failure set once, payment clears it; payment events always name the user.
        let failed = #"{"id":"in_1","object":"invoice","customer":"\#(customer)","parent":{"subscription_details":{"subscription":"\#(subA)"}},"amount_due":4900,"currency":"gbp","billing_reason":"subscription_cycle"}"#
        #expect(try await webhook(Journey.event("invoice.payment_failed", created: t0 + 30, object: failed)).status == 200)
        #expect(try await webhook(Journey.event("invoice.payment_failed", created: t0 + 40, object: failed)).status == 200)
        let afterFailures = try await api.send(.GET, billing("/v1/billing/subscription"), token: learner.token)
        let failedAt = (afterFailures.body["subscription"] as? [String: Any])?["paymentFailedAt"] as? String
        #expect(failedAt.flatMap(RFC3339.parse).map { Int64($0.timeIntervalSince1970) } == t0 + 30, "set on the first failure only")
        let paid = #"{"id":"in_2","object":"invoice","customer":"\#(customer)","subscription":"\#(subA)","amount_paid":4900,"currency":"gbp","billing_reason":"subscription_cycle"}"#
        #expect(try await webhook(Journey.event("invoice.paid", created: t0 + 50, object: paid)).status == 200)
        #expect((try await api.send(.GET, billing("/v1/billing/subscription"), token: learner.token).body["subscription"] as? [String: Any])?["paymentFailedAt"] == nil)
        try await eventually("payment events on the bus") {
            let failures = try await billingEvents("billing.payment.failed.v1") { $0.contains(learner.id) }
            let payments = try await billingEvents("billing.payment.succeeded.v1") { $0.contains(learner.id) && $0.contains(#""isRenewal":true"#) }
            return !failures.isEmpty && !payments.isEmpty
        }

        // Bad input, answered as Stripe expects and never half-applied.
        let probe = Journey.event("customer.subscription.updated", created: t0 + 60, object: Journey.subscription(subA, customer: customer, status: "canceled", price: "price_pro_monthly"))
        #expect(try await webhook(probe, signature: Journey.sign(probe, secret: "whsec_wrong")).body["code"] as? String == "signature_invalid")
        #expect(try await webhook(probe, signature: Journey.sign(probe, secret: secret, at: t0 - 3600)).body["code"] as? String == "signature_expired")
        #expect(try await webhook(probe, signature: "").body["code"] as? String == "signature_missing")
        #expect(try await webhook(probe, signature: "t=1,v9=zz").body["code"] as? String == "signature_malformed")
        let huge = #"{"pad":"\#(String(repeating: "x", count: 300 * 1024))"}"#
        #expect(try await webhook(huge).status == 413)
        #expect(try await webhook(Journey.event("customer.subscription.updated", created: t0 + 60, object: Journey.subscription(subA, customer: customer, status: "canceled", price: "price_pro_monthly"), livemode: true)).body["code"] as? String == "livemode_mismatch")
        #expect(try await webhook("{not json").body["code"] as? String == "malformed_request")
        #expect(try await webhook(Journey.event("charge.refunded", created: t0 + 60, object: #"{"id":"ch_1"}"#)).body["outcome"] as? String == "ignored")
        // An invoice before its subscription: not recorded, Stripe is asked to send it again.
        let early = Journey.event("invoice.paid", created: t0 + 60, object: #"{"id":"in_9","subscription":"sub_nobody","amount_paid":100}"#, id: "evt_early_\(t0)")
        #expect(try await webhook(early).code == "subscription_not_yet_known")
        #expect(try await webhook(early).code == "subscription_not_yet_known", "still not recorded as a duplicate")
        #expect((try await api.send(.GET, billing("/v1/billing/subscription"), token: learner.token).body["subscription"] as? [String: Any])?["status"] as? String == "PAST_DUE")

        // MRR over a mixed set (annual amounts chosen to divide by 12, so the change is exact).
        let adminEmail = "billing.admin.\(UUID().uuidString.prefix(6).lowercased())@example.com"
        #expect(try await processes.syllabus(["admin", "create", "--email", adminEmail, "--password", "admin password"]).status == 0)
        let adminToken = try #require(try await api.send(.POST, processes.url("identity", "/v1/auth/login"), json: #"{"email":"\#(adminEmail)","password":"admin password"}"#).body["accessToken"] as? String)
        #expect(try await api.send(.GET, billing("/v1/billing/admin/metrics"), token: learner.token).code == "admin_only")
        let before = try await api.send(.GET, billing("/v1/billing/admin/metrics"), token: adminToken)
        let mixed: [(String, String)] = [
            ("active", "price_pro_monthly"), ("active", "price_pro_annual"), ("active", "price_starter_monthly"),
            ("active", "price_starter_annual"), ("active", "price_starter_annual"), ("active", "price_starter_annual"),
            ("trialing", "price_pro_monthly"), ("past_due", "price_starter_monthly"), ("canceled", "price_pro_annual"), ("unpaid", "price_pro_monthly"),
        ]
        for index in mixed.indices {
            let (status, price) = mixed[index]
            let user = try await register("payer\(index)")
            let body = Journey.event("customer.subscription.created", created: t0 + 100, object: Journey.subscription("sub_mix\(index)_\(t0)", customer: "cus_mix\(index)_\(t0)", status: status, price: price, user: user.id))
            #expect(try await webhook(body).body["outcome"] as? String == "applied")
        }
        let after = try await api.send(.GET, billing("/v1/billing/admin/metrics"), token: adminToken)
        // By hand: 4900 + 39900/12 + 1900 + 3 × 19000/12 = 4900 + 3325 + 1900 + 4750 = 14875.
        #expect((after.body["mrr"] as? Int ?? 0) - (before.body["mrr"] as? Int ?? 0) == 14875)
        #expect((after.body["active"] as? Int ?? 0) - (before.body["active"] as? Int ?? 0) == 6)
        #expect((after.body["pastDue"] as? Int ?? 0) - (before.body["pastDue"] as? Int ?? 0) == 1)
        #expect((after.body["cancelledThisMonth"] as? Int ?? 0) - (before.body["cancelledThisMonth"] as? Int ?? 0) == 1)

        // An admin's access override becomes an entitlement (billing decides, identity asks).
        let friend = try await register("friend")
        #expect(try await api.send(.PUT, processes.url("identity", "/v1/identity/admin/users/\(friend.id)/access-override"), json: #"{"accessOverride":true}"#, token: adminToken).status == 200)
        try await eventually("the override's entitlement") {
            try await !billingEvents("billing.entitlement.changed.v1") { $0.contains(friend.id) && $0.contains(#""reason":"access_override""#) && $0.contains(#""tier":"pro""#) }.isEmpty
        }

        // The portal, and deletion: access ends and the subscription is cancelled at Stripe.
        #expect((try await api.send(.POST, billing("/v1/billing/portal"), token: learner.token).body["url"] as? String)?.hasPrefix("https://billing.stripe.test/") == true)
        #expect(try await api.send(.DELETE, processes.url("identity", "/v1/me"), token: learner.token).status == 204)
        try await eventually(timeout: .seconds(15), "the deletion's entitlement and the cancellation at Stripe") {
            let ended = try await billingEvents("billing.entitlement.changed.v1") { $0.contains(learner.id) && $0.contains(#""reason":"deletion""#) }
            return !ended.isEmpty && stripe.requests.contains { $0.method == "DELETE" && $0.path == "/v1/subscriptions/\(subA)" }
        }
        #expect(try await api.send(.GET, billing("/v1/billing/subscription"), token: learner.token).code == "invalid_token")
        #expect(processes.exited.isEmpty, "no service died: \(processes.exited)")
    }
}

/// What the test's queue has received so far.
final class Received: @unchecked Sendable {
    private let lock = NSLock()
    private var messages: [IncomingMessage] = []
    func add(_ more: [IncomingMessage]) { lock.withLock { messages += more } }
    var all: [IncomingMessage] { lock.withLock { messages } }
}
