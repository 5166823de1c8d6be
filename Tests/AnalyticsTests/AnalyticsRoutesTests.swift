import Contracts
import Database
import Foundation
import Hummingbird
import HummingbirdTesting
import ServiceKit
import ServiceTesting
import Testing
import TestSupport

@testable import Analytics

/// Analytics' routes in process, over a migrated schema: apps' events with and without a token,
/// their limits, and the admins' reports.
@Suite(.serialized) struct AnalyticsRoutesTests {
    struct Fixture: Sendable {
        let pool: DatabasePool
        let tokens: TestTokens
    }

    func withAnalytics(rateLimit: Int = 120, _ body: (Fixture, Router<ServiceRequestContext>) async throws -> Void) async throws {
        let tokens = try await TestTokens()
        try await withMigratedSchema(AnalyticsMigrations.all) { pool, _ in
            let router = buildAnalyticsRouter(
                .init(database: pool, verifier: tokens.verifier, settings: AnalyticsSettings(rateLimit: rateLimit), logger: TestEnvironment.logger))
            try await body(Fixture(pool: pool, tokens: tokens), router)
        }
    }

    static func batch(session: String, events: [String]) -> ByteBuffer {
        let now = RFC3339.format(Date())
        let items = events.map { #"{"event":"\#($0)","timestamp":"\#(now)","properties":{"placement":"lesson_2"}}"# }
        return ByteBuffer(string: #"{"sessionId":"\#(session)","events":[\#(items.joined(separator: ","))]}"#)
    }

    func collect(
        _ client: some TestClientProtocol, session: String, events: [String], authorization: String? = nil
    ) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let authorization { headers[.authorization] = authorization }
        return try await client.execute(uri: "/v1/analytics/events", method: .post, headers: headers, body: Self.batch(session: session, events: events))
    }

    static func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
    }

    @Test func anonymousEventsBecomeTheUsersOnceTheySignIn() async throws {
        try await withAnalytics { f, router in
            let user = UUID()
            let session = "routes-session-0001"
            try await Application(router: router).test(.router) { client in
                let anonymous = try await collect(client, session: session, events: ["signup_started", "paywall_viewed"])
                #expect(anonymous.status == .accepted)
                let answer = try Self.json(anonymous)
                #expect(answer["accepted"] as? Int == 2)
                #expect(answer["recorded"] as? Int == 2)
                #expect(answer["userId"] == nil)

                let signedIn = try await collect(client, session: session, events: ["paywall_viewed"], authorization: try await f.tokens.bearer(for: user))
                #expect(signedIn.status == .accepted)
                #expect(try Self.json(signedIn)["userId"] as? String == user.lowercased)
            }
            let owners = try await f.pool.query("SELECT user_id FROM events WHERE session_id = 'routes-session-0001'")
                .map { try $0.decode("user_id", as: UUID?.self) }
            #expect(owners == [user, user, user], "the session's earlier events are stitched to the user")
        }
    }

    @Test func aTokenWhenSentMustBeValid() async throws {
        try await withAnalytics { f, router in
            try await Application(router: router).test(.router) { client in
                let forged = try await collect(client, session: "routes-session-0002", events: ["signup_started"], authorization: "Bearer not-a-token")
                #expect(forged.status == .unauthorized)
            }
            #expect(try await f.pool.query("SELECT 1 FROM events").isEmpty)
        }
    }

    @Test func anInvalidBatchNamesEveryProblem() async throws {
        try await withAnalytics { f, router in
            try await Application(router: router).test(.router) { client in
                let invalid = try await collect(client, session: "short", events: ["nope"])
                #expect(invalid.status == .unprocessableContent)
                let codes = try #require(try Self.json(invalid)["errors"] as? [[String: Any]]).compactMap { $0["code"] as? String }
                #expect(codes == ["invalid_session", "unknown_event"])
                let malformed = try await client.execute(uri: "/v1/analytics/events", method: .post, body: ByteBuffer(string: "[]"))
                #expect(malformed.status == .badRequest)
            }
        }
    }

    @Test func aSessionOverItsLimitIsToldWhenToComeBack() async throws {
        try await withAnalytics(rateLimit: 3) { f, router in
            try await Application(router: router).test(.router) { client in
                let session = "routes-session-0003"
                #expect(try await collect(client, session: session, events: ["signup_started", "signup_started"]).status == .accepted)
                let refused = try await collect(client, session: session, events: ["signup_started", "signup_started"])
                #expect(refused.status == .tooManyRequests)
                #expect(try Self.json(refused)["code"] as? String == "rate_limited")
                let retryAfter = try #require(refused.headers[.retryAfter].flatMap { Int($0) })
                #expect((1...60).contains(retryAfter))
                #expect(try await collect(client, session: session, events: ["signup_started"]).status == .accepted, "a refused batch counts for nothing")
                #expect(try await collect(client, session: "routes-session-0004", events: ["signup_started"]).status == .accepted, "per session")
            }
        }
    }

    @Test func adminsReadReports() async throws {
        try await withAnalytics { f, router in
            let user = UUID()
            try await Application(router: router).test(.router) { client in
                _ = try await collect(client, session: "routes-session-0005", events: ["paywall_viewed", "paywall_viewed"], authorization: try await f.tokens.bearer(for: user))
                let admin = try await f.tokens.bearer(role: "ADMIN")
                let counts = try await client.execute(uri: "/v1/analytics/admin/counts?events=paywall_viewed", method: .get, headers: [.authorization: admin])
                #expect(counts.status == .ok)
                let points = try #require(try Self.json(counts)["points"] as? [[String: Any]])
                #expect(points.compactMap { $0["count"] as? Int }.reduce(0, +) == 2)
                #expect(points.allSatisfy { $0["event"] as? String == "paywall_viewed" })

                let csv = try await client.execute(uri: "/v1/analytics/admin/mrr?format=csv", method: .get, headers: [.authorization: admin])
                #expect(csv.status == .ok)
                #expect(String(buffer: csv.body).hasPrefix("bucket,at,mrr,active_subscriptions\r\n"))

                let theirs = try await client.execute(
                    uri: "/v1/analytics/admin/users/\(user.lowercased)/events", method: .get, headers: [.authorization: admin])
                #expect(try #require(try Self.json(theirs)["events"] as? [[String: Any]]).count == 2)

                let invalid = try await client.execute(uri: "/v1/analytics/admin/funnel?steps=signup_started", method: .get, headers: [.authorization: admin])
                #expect(invalid.status == .unprocessableContent)

                let learner = try await client.execute(
                    uri: "/v1/analytics/admin/counts", method: .get, headers: [.authorization: try await f.tokens.bearer(for: user)])
                #expect(learner.status == .forbidden)
            }
        }
    }
}
