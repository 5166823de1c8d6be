import AsyncHTTPClient
import Contracts
import Foundation
import MessageBus
import Testing
import TestSupport

/// Analytics lives on the public contract alone: a learner's journey across services yields
/// exactly the expected product events, a funnel, and MRR matching billing's.
extension EndToEndTests {
    struct AnalyticsJourneyTests {}
}

extension EndToEndTests.AnalyticsJourneyTests {
    @Test func aJourneyBecomesProductEventsAFunnelAndMRR() async throws {
        let journey = try AnalyticsJourney()
        try await runJourney(journey.run, finish: journey.http.shutdown)
    }
}

final class AnalyticsJourney: @unchecked Sendable {
    let processes: ServiceProcesses
    let http = HTTPClient(eventLoopGroupProvider: .singleton)
    let api: JSONClient

    init() throws {
        processes = try ServiceProcesses(portBase: 10080)
        api = JSONClient(client: http)
    }

    func analytics(_ path: String) -> String { processes.url("analytics", path) }

    func stripe(_ type: String, _ object: String, created: Int64) async throws {
        let body = EndToEndTests.BillingJourneyTests.event(type, created: created, object: object)
        let answer = try await api.send(
            .POST, processes.url("billing", "/v1/billing/webhooks/stripe"), json: body,
            headers: [("stripe-signature", EndToEndTests.BillingJourneyTests.sign(body, secret: try TestEnvironment.value("BILLING_STRIPE_WEBHOOK_SECRET")))])
        #expect(answer.status == 200, "\(type): \(answer.body)")
    }

    func subscribe(_ user: String, id: String, status: String = "active", price: String = "price_pro_monthly", created: Int64) async throws {
        try await stripe(
            "customer.subscription.created",
            EndToEndTests.BillingJourneyTests.subscription(id, customer: "cus_\(id)", status: status, price: price, user: user, start: created),
            created: created)
    }

    func register(_ name: String) async throws -> (id: String, token: String) {
        let answer = try await api.send(.POST, processes.url("identity", "/v1/auth/register"),
            json: #"{"email":"\#(name).\#(UUID().uuidString.prefix(6).lowercased())@example.com","password":"a long password","name":"\#(name)"}"#)
        return (try #require((answer.body["user"] as? [String: Any])?["id"] as? String), try #require(answer.body["accessToken"] as? String))
    }

    func collect(_ session: String, _ events: String, token: String? = nil) async throws -> JSONClient.Answer {
        try await api.send(.POST, analytics("/v1/analytics/events"), json: #"{"sessionId":"\#(session)","events":[\#(events)]}"#, token: token)
    }

    func events(_ user: String, admin: String) async throws -> [String] {
        let answer = try await api.send(.GET, analytics("/v1/analytics/admin/users/\(user)/events"), token: admin)
        return (answer.body["events"] as? [[String: Any]] ?? []).compactMap { $0["event"] as? String }
    }

    func run() async throws {
        try processes.start()
        defer { processes.stop() }
        try await processes.waitUntilReady(api)
        let adminEmail = "analytics.admin.\(UUID().uuidString.prefix(6).lowercased())@example.com"
        #expect(try await processes.syllabus(["admin", "create", "--email", adminEmail, "--password", "admin password"]).status == 0)
        let admin = try #require(try await api.send(.POST, processes.url("identity", "/v1/auth/login"), json: #"{"email":"\#(adminEmail)","password":"admin password"}"#).body["accessToken"] as? String)
        // The funnel's window opens after the admin's own signup.
        let start = Date()
        let now = RFC3339.format(Date())

        // Malformed client events are refused with the field and the reason.
        let session = "session-\(UUID().uuidString.prefix(12).lowercased())"
        let unknown = try await collect(session, #"{"event":"page_exploded","timestamp":"\#(now)"}"#)
        #expect(unknown.status == 422 && (unknown.body["errors"] as? [[String: Any]])?.first?["code"] as? String == "unknown_event")
        let future = try await collect(session, #"{"event":"signup_started","timestamp":"\#(RFC3339.format(Date().addingTimeInterval(3600)))"}"#)
        #expect((future.body["errors"] as? [[String: Any]])?.first?["code"] as? String == "in_the_future")
        let missing = try await collect(session, #"{"event":"subscription_plan_selected","timestamp":"\#(now)","properties":{"tier":"gold"}}"#)
        #expect(Set((missing.body["errors"] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String }) == ["invalid_choice", "required"])
        #expect(try await collect(session, #"{"event":"signup_completed","timestamp":"\#(now)"}"#).body["errors"] != nil, "server events are not taken from apps")
        #expect(try await api.send(.POST, analytics("/v1/analytics/events"), json: #"{"sessionId":"x"}"#).status == 422)
        #expect(try await api.send(.POST, analytics("/v1/analytics/events"), json: "[1,2").code == "malformed_request")
        #expect(try await collect(session, #"{"event":"signup_started","timestamp":"\#(now)"}"#, token: "forged").status == 401)

        // An anonymous paywall view, then signup: signing in stitches the session to the learner.
        let paywall = try await collect(session, #"{"id":"\#(UUID().uuidString.lowercased())","event":"paywall_viewed","timestamp":"\#(now)","properties":{"placement":"lesson_2"}}"#)
        #expect(paywall.status == 202 && paywall.body["recorded"] as? Int == 1, "\(paywall.body)")
        let learner = try await register("analyst")
        #expect(try await collect(session, #"{"event":"signup_started","timestamp":"\#(now)"}"#, token: learner.token).body["userId"] as? String == learner.id)

        // The free lesson (progress's events, as progress publishes them), a subscription, a
        // failed payment and a renewal (signed Stripe webhooks through billing).
        let publisher = try AMQPPublisher(url: try TestEnvironment.value("ADMIN_AMQP_URL"), name: "e2e-analytics", logger: TestEnvironment.logger)
        defer { publisher.shutdown() }
        func publish<E: DomainEvent>(_ event: CloudEvent<E>) async throws {
            #expect(try await publisher.publish(OutgoingMessage(
                exchange: E.eventType.producer.exchange, routingKey: E.eventType.routingKey, body: try EventCoding.encode(event),
                properties: AMQPProperties(contentType: "application/cloudevents+json", messageID: event.id))) == .confirmed)
        }
        let lesson = UUID().lowercased, module = UUID().lowercased
        try await publish(CloudEvent(ProgressLessonStartedV1(userId: learner.id, lessonId: lesson, moduleId: module, isFree: true, firstTime: true, startedAt: Date()), sequence: 1))
        let completed = CloudEvent(ProgressLessonCompletedV1(userId: learner.id, lessonId: lesson, moduleId: module, isFree: true, completedAt: Date()), sequence: 2)
        try await publish(completed)
        try await publish(completed) // a replayed bus event counts once
        let t0 = Int64(Date().timeIntervalSince1970)
        let subscription = "sub_an_\(learner.id.suffix(12))"
        try await subscribe(learner.id, id: subscription, created: t0)
        let failed = #"{"id":"in_f_\#(learner.id.suffix(8))","object":"invoice","customer":"cus_\#(subscription)","subscription":"\#(subscription)","amount_due":4900,"currency":"gbp","billing_reason":"subscription_cycle"}"#
        try await stripe("invoice.payment_failed", failed, created: t0 + 1)
        let paid = #"{"id":"in_p_\#(learner.id.suffix(8))","object":"invoice","customer":"cus_\#(subscription)","subscription":"\#(subscription)","amount_paid":4900,"currency":"gbp","billing_reason":"subscription_cycle"}"#
        try await stripe("invoice.paid", paid, created: t0 + 2)

        let expected = [
            "paywall_viewed", "signup_completed", "signup_started", "lesson_started", "video_1_started", "lesson_completed", "video_1_completed",
            "subscription_started", "payment_failed", "subscription_renewed",
        ]
        try await eventually(timeout: .seconds(15), "the journey's events") { try await self.events(learner.id, admin: admin).count >= expected.count }
        #expect(Set(try await events(learner.id, admin: admin)) == Set(expected))
        #expect(try await events(learner.id, admin: admin).count == expected.count, "each exactly once")

        // A second learner signs up and stops: the funnel converts one of two.
        let dropout = try await register("dropout")
        try await eventually(timeout: .seconds(10), "the dropout's signup") { try await self.events(dropout.id, admin: admin) == ["signup_completed"] }
        let funnel = try await api.send(
            .GET, analytics("/v1/analytics/admin/funnel?steps=signup_completed,video_1_completed,subscription_started&from=\(RFC3339.format(start))"), token: admin)
        let steps = funnel.body["steps"] as? [[String: Any]] ?? []
        #expect(steps.map { $0["users"] as? Int } == [2, 1, 1], "\(funnel.body)")
        #expect(steps.map { $0["conversionFromPrevious"] as? Double } == [1, 0.5, 1])
        let csv = try await api.send(.GET, analytics("/v1/analytics/admin/funnel?steps=signup_completed,subscription_started&from=\(RFC3339.format(start))&format=csv"), token: admin)
        #expect(csv.contentType?.hasPrefix("text/csv") == true)
        #expect(try await api.send(.GET, analytics("/v1/analytics/admin/funnel?steps=signup_completed"), token: admin).status == 422)
        #expect(try await api.send(.GET, analytics("/v1/analytics/admin/funnel?steps=a,b"), token: learner.token).status == 403)

        // MRR over time, rebuilt from billing's events, equals billing's own figure today, on a
        // mixed set: monthly, annual, past due, canceled.
        let mixed = [("price_pro_annual", "active"), ("price_starter_monthly", "active"), ("price_starter_annual", "past_due"), ("price_pro_monthly", "canceled")]
        for (index, (price, status)) in mixed.enumerated() {
            let other = try await register("payer\(index)")
            try await subscribe(other.id, id: "sub_mix_\(other.id.suffix(12))", status: status, price: price, created: t0 + 10)
        }
        var billingMRR: Int?
        var analyticsMRR: Int?
        try await eventually(timeout: .seconds(15), "analytics' MRR to reach billing's") {
            billingMRR = try await self.api.send(.GET, self.processes.url("billing", "/v1/billing/admin/metrics"), token: admin).body["mrr"] as? Int
            let series = try await self.api.send(.GET, self.analytics("/v1/analytics/admin/mrr?interval=day"), token: admin)
            analyticsMRR = (series.body["points"] as? [[String: Any]])?.last?["mrr"] as? Int
            return billingMRR != nil && billingMRR == analyticsMRR
        }
        print("MRR today: billing \(billingMRR ?? -1), analytics \(analyticsMRR ?? -1)")
        #expect(try await api.send(.GET, analytics("/v1/analytics/admin/mrr?interval=hour"), token: admin).status == 422)
        let active = try await api.send(.GET, analytics("/v1/analytics/admin/active-learners?from=\(RFC3339.format(start))&interval=day"), token: admin)
        #expect(((active.body["points"] as? [[String: Any]])?.compactMap { $0["activeLearners"] as? Int }.reduce(0, +) ?? 0) >= 1)

        // Deleting the learner anonymises their events; they still count.
        #expect(try await api.send(.DELETE, processes.url("identity", "/v1/me"), token: learner.token).status == 204)
        try await eventually(timeout: .seconds(10), "the learner's events to be anonymised") { try await self.events(learner.id, admin: admin).isEmpty }
        let after = try await api.send(
            .GET, analytics("/v1/analytics/admin/counts?events=subscription_started&from=\(RFC3339.format(start))&interval=day"), token: admin)
        #expect(((after.body["points"] as? [[String: Any]])?.compactMap { $0["count"] as? Int }.reduce(0, +) ?? 0) >= 1)
        #expect(processes.exited.isEmpty, "no service died: \(processes.exited)")
    }
}
