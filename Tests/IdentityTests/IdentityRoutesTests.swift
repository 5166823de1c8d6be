import Database
import Foundation
import Hummingbird
import HummingbirdTesting
import ServiceKit
import ServiceTesting
import TestSupport
import Testing

@testable import Identity

/// Identity's routes in process, over a schema of their own: what each answers, and what it
/// writes (users, sessions, the audit trail, the events in the outbox).
@Suite struct IdentityRoutesTests {
    struct Harness: Sendable {
        let client: any TestClientProtocol
        let pool: DatabasePool
        let tokens: TestTokens
        let dependencies: IdentityDependencies

        func json(_ response: TestResponse) throws -> [String: Any] {
            try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
        }

        func post(_ path: String, _ body: String, token: String? = nil) async throws -> TestResponse {
            var headers: HTTPFields = [.contentType: "application/json"]
            if let token { headers[.authorization] = "Bearer \(token)" }
            return try await client.execute(uri: path, method: .post, headers: headers, body: ByteBuffer(string: body))
        }

        func register(_ email: String, password: String = "correct horse", name: String = "Ada") async throws -> TestResponse {
            try await post("/v1/auth/register", #"{"email":"\#(email)","password":"\#(password)","name":"\#(name)"}"#)
        }

        func events(about user: String) async throws -> [String] {
            try await pool.query("SELECT routing_key FROM outbox WHERE aggregate_id = \(user) ORDER BY id").map { try $0.decode("routing_key") }
        }
    }

    /// Routes over a fresh schema, with a cheap bcrypt and small sign-in limits.
    func withRoutes(_ body: @escaping @Sendable (Harness) async throws -> Void) async throws {
        let tokens = try await TestTokens()
        try await withMigratedSchema(IdentityMigrations.all) { pool, _ in
            var settings = IdentitySettings(publicURL: "https://id.example.com")
            settings.bcryptCost = 4
            settings.throttle.perAccountAndAddress = 3
            let issuer = try await TokenIssuer(signingKey: tokens.key)
            let dependencies = try await IdentityDependencies.make(database: pool, tokens: issuer, settings: settings)
            let router = try await buildIdentityRouter(dependencies)
            try await Application(router: router).test(.router) { client in
                try await body(Harness(client: client, pool: pool, tokens: tokens, dependencies: dependencies))
            }
            try await dependencies.hasher.shutdown()
        }
    }

    @Test func registeringCreatesTheAccountAndAnnouncesIt() async throws {
        try await withRoutes { h in
            let response = try await h.register("ada@example.com")
            #expect(response.status == .created)
            let body = try h.json(response)
            let user = try #require(body["user"] as? [String: Any])
            let id = try #require(user["id"] as? String)
            #expect(user["email"] as? String == "ada@example.com")
            #expect(user["emailVerified"] as? Bool == false)
            #expect((body["accessToken"] as? String)?.isEmpty == false)
            #expect(try await h.events(about: id) == [
                "identity.user.registered.v1", "identity.email.verification_requested.v2", "identity.email.verification_link.v1",
            ])

            let again = try await h.register("ADA@example.com")
            #expect(again.status == .conflict)
            #expect(try h.json(again)["code"] as? String == "email_taken")
        }
    }

    @Test func aBadRegistrationNamesEveryFieldAndWritesNothing() async throws {
        try await withRoutes { h in
            let response = try await h.post("/v1/auth/register", #"{"email":"not an address","password":"short","name":""}"#)
            #expect(response.status == .unprocessableContent)
            let body = try h.json(response)
            #expect(body["code"] as? String == "validation_failed")
            let fields = Set((body["errors"] as? [[String: String]] ?? []).compactMap { $0["field"] })
            #expect(fields == ["email", "password", "name"])
            #expect(try await h.pool.query("SELECT 1 FROM users").isEmpty)
        }
    }

    @Test func signInChecksThePasswordAndLimitsAttempts() async throws {
        try await withRoutes { h in
            _ = try await h.register("bob@example.com")
            let wrong = try await h.post("/v1/auth/login", #"{"email":"bob@example.com","password":"wrong password"}"#)
            #expect(wrong.status == .unauthorized)
            #expect(try h.json(wrong)["code"] as? String == "invalid_credentials")
            let right = try await h.post("/v1/auth/login", #"{"email":"bob@example.com","password":"correct horse"}"#)
            #expect(right.status == .ok)

            // Three wrong passwords from one address for one account, then a refusal for a while.
            for _ in 0..<3 { _ = try await h.post("/v1/auth/login", #"{"email":"bob@example.com","password":"wrong password"}"#) }
            let limited = try await h.post("/v1/auth/login", #"{"email":"bob@example.com","password":"correct horse"}"#)
            #expect(limited.status == .tooManyRequests)
            #expect(try h.json(limited)["code"] as? String == "too_many_attempts")
            #expect(Int(limited.headers[.retryAfter] ?? "") ?? 0 >= 1)
        }
    }

    @Test func aRefreshTokenWorksOnceAndItsReuseEndsTheSession() async throws {
        try await withRoutes { h in
            let registered = try h.json(try await h.register("cleo@example.com"))
            let first = try #require(registered["refreshToken"] as? String)
            let rotated = try await h.post("/v1/auth/refresh", #"{"refreshToken":"\#(first)"}"#)
            #expect(rotated.status == .ok)
            let second = try #require(try h.json(rotated)["refreshToken"] as? String)
            #expect(second != first)

            let reused = try await h.post("/v1/auth/refresh", #"{"refreshToken":"\#(first)"}"#)
            #expect(reused.status == .unauthorized)
            #expect(try h.json(reused)["code"] as? String == "refresh_token_reused")
            let afterReuse = try await h.post("/v1/auth/refresh", #"{"refreshToken":"\#(second)"}"#)
            #expect(afterReuse.status == .unauthorized, "the whole session ended")
        }
    }

    @Test func theProfileIsTheCallersOwn() async throws {
        try await withRoutes { h in
            let registered = try h.json(try await h.register("dora@example.com", name: "Dora"))
            let token = try #require(registered["accessToken"] as? String)
            let me = try await h.client.execute(uri: "/v1/me", method: .get, headers: [.authorization: "Bearer \(token)"])
            #expect(me.status == .ok)
            #expect(try h.json(me)["name"] as? String == "Dora")
            let nobody = try await h.client.execute(uri: "/v1/me", method: .get)
            #expect(nobody.status == .unauthorized)
            #expect(try h.json(nobody)["code"] as? String == "unauthenticated")
        }
    }

    @Test func adminsManageUsersAndTheLastAdminStays() async throws {
        try await withRoutes { h in
            let learner = try #require(try h.json(try await h.register("eve@example.com"))["user"] as? [String: Any])
            let learnerID = try #require(learner["id"] as? String)
            let admin = try await h.dependencies.users.register(
                id: UUID(), email: "root@example.com", name: "Root", passwordHash: "x", role: "ADMIN", emailVerified: true,
                refreshTokenHash: TokenIssuer.newRefreshToken().hash, verification: nil, verificationURL: { $0 }, now: Date())
            let adminToken = try await h.tokens.token(for: admin.id, role: "ADMIN")
            let learnerToken = try await h.tokens.token(for: UUID(uuidString: learnerID)!, role: "USER")

            let refused = try await h.client.execute(
                uri: "/v1/identity/admin/users", method: .get, headers: [.authorization: "Bearer \(learnerToken)"])
            #expect(refused.status == .forbidden)
            #expect(try h.json(refused)["code"] as? String == "admin_only")
            let listed = try await h.client.execute(uri: "/v1/identity/admin/users", method: .get, headers: [.authorization: "Bearer \(adminToken)"])
            #expect(listed.status == .ok)
            #expect((try h.json(listed)["items"] as? [[String: Any]])?.count == 2)

            let demoteSelf = try await h.client.execute(
                uri: "/v1/identity/admin/users/\(admin.id.lowercased)/role", method: .put,
                headers: [.authorization: "Bearer \(adminToken)", .contentType: "application/json"], body: ByteBuffer(string: #"{"role":"USER"}"#))
            #expect(demoteSelf.status == .conflict)
            #expect(try h.json(demoteSelf)["code"] as? String == "last_admin")

            let promote = try await h.client.execute(
                uri: "/v1/identity/admin/users/\(learnerID)/role", method: .put,
                headers: [.authorization: "Bearer \(adminToken)", .contentType: "application/json"], body: ByteBuffer(string: #"{"role":"ADMIN"}"#))
            #expect(promote.status == .ok)
            #expect(try await h.events(about: learnerID).last == "identity.user.role_changed.v1")
            let audit = try await h.pool.query("SELECT action, actor_id FROM admin_audit WHERE target_id = \(UUID(uuidString: learnerID)!)")
            #expect(audit.count == 1)
            #expect(try audit.first?.decode("actor_id", as: UUID.self) == admin.id)
        }
    }

    @Test func makingAnAdminIsAuditedAndPublishedLikeARoleChange() async throws {
        try await withRoutes { h in
            let user = try #require(try h.json(try await h.register("fay@example.com"))["user"] as? [String: Any])
            let text = try #require(user["id"] as? String)
            let id = try #require(UUID(uuidString: text))
            try await h.dependencies.users.makeAdmin(id, passwordHash: "new hash", now: Date())
            let row = try #require(try await h.pool.query("SELECT role, password_hash FROM users WHERE id = \(id)").first)
            #expect(try row.decode("role", as: String.self) == "ADMIN")
            #expect(try row.decode("password_hash", as: String.self) == "new hash")
            #expect(try await h.pool.query("SELECT 1 FROM sessions WHERE user_id = \(id) AND revoked_at IS NULL").isEmpty, "no session of before")
            let audit = try await h.pool.query("SELECT action FROM admin_audit WHERE target_id = \(id)").map { try $0.decode("action", as: String.self) }
            #expect(audit == ["role_changed"])
            #expect(try await h.events(about: id.lowercased).last == "identity.user.role_changed.v1")
        }
    }
}
