import Contracts
import Database
import Foundation
import Hummingbird
import HummingbirdTesting
import ServiceKit
import ServiceTesting
import Testing
import TestSupport

@testable import Notifications

/// Notifications' routes in process, over a migrated schema: the unsubscribe link and the
/// admins' view of the queue.
@Suite(.serialized) struct NotificationsRoutesTests {
    static let settings = NotificationsSettings(unsubscribeSecret: "routes-test-secret", publicURL: "http://notifications.test")

    struct Fixture: Sendable {
        let pool: DatabasePool
        let tokens: TestTokens
        var links: UnsubscribeLinks { NotificationsRoutesTests.settings.unsubscribeLinks }
    }

    func withNotifications(_ body: (Fixture, Router<ServiceRequestContext>) async throws -> Void) async throws {
        let tokens = try await TestTokens()
        try await withMigratedSchema(NotificationsMigrations.all) { pool, _ in
            let router = buildNotificationsRouter(
                .init(database: pool, verifier: tokens.verifier, settings: Self.settings, logger: TestEnvironment.logger))
            try await body(Fixture(pool: pool, tokens: tokens), router)
        }
    }

    func register(_ user: UUID, on pool: DatabasePool) async throws {
        let event = CloudEvent(
            IdentityUserRegisteredV1(
                userId: user.lowercased, email: "\(user.lowercased.prefix(8))@example.com", name: "Learner", role: "USER", emailVerified: true,
                marketingOptOut: false, registeredAt: Date()),
            sequence: 1)
        try await pool.transaction { try Lifecycle.registered(event, on: $0) }
    }

    static func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
    }

    func path(_ link: String) -> String { String(link.dropFirst("http://notifications.test".count)) }

    @Test func aValidLinkUnsubscribesOnceAndTellsIdentity() async throws {
        try await withNotifications { f, router in
            let user = UUID()
            try await register(user, on: f.pool)
            try await Application(router: router).test(.router) { client in
                let link = path(f.links.url(for: user))
                let page = try await client.execute(uri: link, method: .get)
                #expect(page.status == .ok)
                #expect(page.headers[.contentType]?.hasPrefix("text/html") == true)
                #expect(try await f.pool.query("SELECT 1 FROM recipients WHERE marketing_opt_out").isEmpty, "opening the page changes nothing")

                for _ in 1...2 {
                    let response = try await client.execute(uri: link, method: .post)
                    #expect(response.status == .ok)
                    let answer = try Self.json(response)
                    #expect(answer["userId"] as? String == user.lowercased)
                    #expect(answer["marketingOptOut"] as? Bool == true)
                }
            }
            let row = try #require(try await f.pool.query("SELECT marketing_opt_out FROM recipients WHERE user_id = \(user)").first)
            #expect(try row.decode("marketing_opt_out", as: Bool.self))
            let events = try await f.pool.query("SELECT routing_key FROM outbox").map { try $0.decode("routing_key", as: String.self) }
            #expect(events == ["notifications.consent.changed.v1"], "repeating the opt-out changes nothing")
        }
    }

    @Test func anInvalidLinkIsRefused() async throws {
        try await withNotifications { f, router in
            let user = UUID()
            try await register(user, on: f.pool)
            try await Application(router: router).test(.router) { client in
                let someoneElses = f.links.token(for: UUID())
                for uri in [
                    "/v1/notifications/unsubscribe?user=\(user.lowercased)&token=\(someoneElses)",
                    "/v1/notifications/unsubscribe?user=\(user.lowercased)",
                    "/v1/notifications/unsubscribe?user=nobody&token=\(someoneElses)",
                ] {
                    let response = try await client.execute(uri: uri, method: .post)
                    #expect(response.status == .forbidden)
                    #expect(try Self.json(response)["code"] as? String == "invalid_link")
                }
            }
            #expect(try await f.pool.query("SELECT 1 FROM recipients WHERE marketing_opt_out").isEmpty)
            #expect(try await f.pool.query("SELECT 1 FROM outbox").isEmpty)
        }
    }

    @Test func adminsListTheQueueWithFilters() async throws {
        try await withNotifications { f, router in
            let (user, other) = (UUID(), UUID())
            try await register(user, on: f.pool)
            try await register(other, on: f.pool)
            try await Application(router: router).test(.router) { client in
                let admin = try await f.tokens.bearer(role: "ADMIN")
                let all = try await client.execute(uri: "/v1/notifications/admin/emails", method: .get, headers: [.authorization: admin])
                #expect(all.status == .ok)
                #expect(try #require(try Self.json(all)["items"] as? [[String: Any]]).count == 6, "welcome, start journey and a nudge each")

                let mine = try await client.execute(
                    uri: "/v1/notifications/admin/emails?userId=\(user.lowercased)&template=WELCOME", method: .get, headers: [.authorization: admin])
                let items = try #require(try Self.json(mine)["items"] as? [[String: Any]])
                #expect(items.count == 1)
                #expect(items.first?["userId"] as? String == user.lowercased)
                #expect(items.first?["status"] as? String == "PENDING")
                #expect(items.first?["kind"] as? String == "transactional")

                let invalid = try await client.execute(
                    uri: "/v1/notifications/admin/emails?userId=x&status=LOST&template=NOPE&limit=0", method: .get, headers: [.authorization: admin])
                #expect(invalid.status == .unprocessableContent)
                let fields = try #require(try Self.json(invalid)["errors"] as? [[String: Any]]).compactMap { $0["field"] as? String }
                #expect(fields == ["userId", "status", "template", "limit"])

                let learner = try await client.execute(
                    uri: "/v1/notifications/admin/emails", method: .get, headers: [.authorization: try await f.tokens.bearer(for: user)])
                #expect(learner.status == .forbidden)
            }
        }
    }

    @Test func aFailedMailIsRetriedAndOnlyAFailedOne() async throws {
        try await withNotifications { f, router in
            let user = UUID()
            try await register(user, on: f.pool)
            let welcome = try #require(try await f.pool.query("SELECT id FROM email_queue WHERE template = 'WELCOME'").first?.decode("id", as: UUID.self))
            try await Application(router: router).test(.router) { client in
                let admin = try await f.tokens.bearer(role: "ADMIN")
                let pending = try await client.execute(
                    uri: "/v1/notifications/admin/emails/\(welcome.lowercased)/retry", method: .post, headers: [.authorization: admin])
                #expect(pending.status == .conflict)
                #expect(try Self.json(pending)["code"] as? String == "not_retryable")

                try await f.pool.execute(
                    "UPDATE email_queue SET status = 'FAILED', attempts = 5, reason = 'relay down', processed_at = now() WHERE id = \(welcome)")
                let retried = try await client.execute(
                    uri: "/v1/notifications/admin/emails/\(welcome.lowercased)/retry", method: .post, headers: [.authorization: admin])
                #expect(retried.status == .ok)
                let entry = try Self.json(retried)
                #expect(entry["status"] as? String == "PENDING")
                #expect(entry["attempts"] as? Int == 0)
                #expect(entry["reason"] == nil)

                let missing = try await client.execute(
                    uri: "/v1/notifications/admin/emails/\(UUID().uuidString.lowercased())/retry", method: .post, headers: [.authorization: admin])
                #expect(missing.status == .notFound)
            }
        }
    }
}
