import AsyncHTTPClient
import Contracts
import Crypto
import Foundation
import Testing
import TestSupport

/// Lifecycle mail across services: a failed payment at Stripe becomes a mail within two seconds,
/// the one-click unsubscribe link reaches identity's profile, and admins see and retry mail.
extension EndToEndTests {
    struct NotificationsJourneyTests {}
}

extension EndToEndTests.NotificationsJourneyTests {
    @Test func paymentFailureMailUnsubscribeAndAdminRetry() async throws {
        let journey = try NotificationsJourney()
        try await runJourney(journey.run, finish: journey.http.shutdown)
    }
}

final class NotificationsJourney: @unchecked Sendable {
    let processes: ServiceProcesses
    let http = HTTPClient(eventLoopGroupProvider: .singleton)
    let api: JSONClient

    init() throws {
        processes = try ServiceProcesses(portBase: 9980)
        api = JSONClient(client: http)
    }

    func notifications(_ path: String) -> String { processes.url("notifications", path) }

    func stripeWebhook(_ body: String) async throws -> Int {
        try await api.send(
            .POST, processes.url("billing", "/v1/billing/webhooks/stripe"), json: body,
            headers: [("stripe-signature", EndToEndTests.BillingJourneyTests.sign(body, secret: try TestEnvironment.value("BILLING_STRIPE_WEBHOOK_SECRET")))]
        ).status
    }

    /// The unsubscribe token notifications signs for a user.
    static func token(_ user: String, secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("unsubscribe:\(user)".utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return Data(mac).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    func run() async throws {
        try processes.start()
        defer { processes.stop() }
        try await processes.waitUntilReady(api)
        let email = "payer.\(UUID().uuidString.prefix(6).lowercased())@example.com"
        let registered = try await api.send(.POST, processes.url("identity", "/v1/auth/register"), json: #"{"email":"\#(email)","password":"a long password","name":"Payer"}"#)
        let user = try #require((registered.body["user"] as? [String: Any])?["id"] as? String)
        let token = try #require(registered.body["accessToken"] as? String)

        // A subscription, then Stripe cannot take the renewal: the mail is on disk within two seconds.
        let now = Int64(Date().timeIntervalSince1970)
        let subscription = "sub_\(user.suffix(12))", customer = "cus_\(user.suffix(12))"
        #expect(try await stripeWebhook(EndToEndTests.BillingJourneyTests.event(
            "customer.subscription.created", created: now,
            object: EndToEndTests.BillingJourneyTests.subscription(subscription, customer: customer, status: "active", price: "price_pro_monthly", user: user, start: now))) == 200)
        let invoice = #"{"id":"in_\#(user.suffix(12))","object":"invoice","customer":"\#(customer)","subscription":"\#(subscription)","amount_due":4900,"currency":"gbp","billing_reason":"subscription_cycle"}"#
        let clock = ContinuousClock()
        let sent = clock.now
        #expect(try await stripeWebhook(EndToEndTests.BillingJourneyTests.event("invoice.payment_failed", created: now + 1, object: invoice)) == 200)
        try await eventually(timeout: .seconds(2), "the PAYMENT_FAILED mail on disk") {
            try mails(in: self.processes.mailDirectory).contains { $0.contains("Your payment did not go through") && $0.contains(email) && $0.contains("£49.00") }
        }
        print("PAYMENT_FAILED mail on disk \(clock.now - sent) after the webhook")

        // Admins see the queue; only a FAILED mail can be retried.
        let adminEmail = "mail.admin.\(UUID().uuidString.prefix(6).lowercased())@example.com"
        #expect(try await processes.syllabus(["admin", "create", "--email", adminEmail, "--password", "admin password"]).status == 0)
        let admin = try #require(try await api.send(.POST, processes.url("identity", "/v1/auth/login"), json: #"{"email":"\#(adminEmail)","password":"admin password"}"#).body["accessToken"] as? String)
        let queue = try await api.send(.GET, notifications("/v1/notifications/admin/emails?userId=\(user)&template=PAYMENT_FAILED"), token: admin)
        let entry = try #require((queue.body["items"] as? [[String: Any]])?.first)
        #expect(entry["status"] as? String == "SENT" && entry["kind"] as? String == "transactional")
        #expect(try await api.send(.POST, notifications("/v1/notifications/admin/emails/\(entry["id"] as? String ?? "")/retry"), token: admin).code == "not_retryable")
        #expect(try await api.send(.POST, notifications("/v1/notifications/admin/emails/\(UUID())/retry"), token: admin).status == 404)
        #expect(try await api.send(.POST, notifications("/v1/notifications/admin/emails/\(UUID())/retry"), token: token).status == 403)

        // One click on the unsubscribe link: applied at once, and identity's profile follows.
        let secret = try TestEnvironment.value("NOTIFICATIONS_UNSUBSCRIBE_SECRET")
        let link = notifications("/v1/notifications/unsubscribe?user=\(user)&token=\(Self.token(user, secret: secret))")
        #expect(try await api.send(.GET, notifications("/v1/notifications/unsubscribe?user=\(user)&token=forged")).code == "invalid_link")
        let page = try await api.send(.GET, link)
        #expect(page.status == 200 && page.contentType?.hasPrefix("text/html") == true)
        #expect(try await api.send(.GET, processes.url("identity", "/v1/me"), token: token).body["marketingOptOut"] as? Bool == false, "opening the page changes nothing")
        let clicked = try await api.send(.POST, link, headers: [("content-type", "application/x-www-form-urlencoded")])
        #expect(clicked.status == 200 && clicked.body["marketingOptOut"] as? Bool == true, "\(clicked.body)")
        try await eventually(timeout: .seconds(10), "identity to show the opt-out") {
            try await self.api.send(.GET, self.processes.url("identity", "/v1/me"), token: token).body["marketingOptOut"] as? Bool == true
        }
        #expect(processes.logsContaining([Self.token(user, secret: secret)]).isEmpty, "no log line holds the unsubscribe token")
        #expect(processes.exited.isEmpty, "no service died: \(processes.exited)")
    }
}
