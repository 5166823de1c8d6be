import Database
import Foundation
import Hummingbird
import HummingbirdTesting
import Identity
import ServiceKit
import ServiceTesting
import TestSupport
import Testing

/// Identity's routes in process, over a schema of their own: what each answers, and what it
/// writes (users, sessions, the outbox).
@Suite struct IdentityRoutesTests {
    /// The router as the service builds it, signing with the test's key (so `TestTokens` tokens
    /// verify), with a cheap bcrypt and `throttle`.
    func withIdentity(
        throttle: Throttle = Throttle(),
        _ body: @escaping @Sendable (any TestClientProtocol, DatabasePool, TestTokens) async throws -> Void
    ) async throws {
        let tokens = try await TestTokens()
        try await withMigratedSchema(IdentityMigrations.all) { pool, _ in
            var settings = IdentitySettings(publicURL: "http://identity.test")
            settings.throttle = throttle
            let hasher = PasswordHasher(cost: 4, threads: 2)
            let dependencies = try await IdentityDependencies(
                database: pool, tokens: try await TokenIssuer(signingKey: tokens.key), hasher: hasher, settings: settings,
                logger: TestEnvironment.logger)
            let app = Application(router: buildIdentityRouter(dependencies))
            do {
                try await app.test(.router) { client in try await body(client, pool, tokens) }
            } catch {
                try? await hasher.shutdown()
                throw error
            }
            try await hasher.shutdown()
        }
    }

    static func json(_ object: [String: Any]) -> ByteBuffer {
        ByteBuffer(data: try! JSONSerialization.data(withJSONObject: object))
    }

    static func object(_ response: TestResponse) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]) ?? [:]
    }

    static func post(_ client: any TestClientProtocol, _ uri: String, _ body: [String: Any], token: String? = nil) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await client.execute(uri: uri, method: .post, headers: headers, body: json(body))
    }

    static func register(_ client: any TestClientProtocol, email: String = "ada@example.com", password: String = "correct horse") async throws
        -> [String: Any]
    {
        let response = try await post(client, "/v1/auth/register", ["email": email, "password": password, "name": "Ada"])
        #expect(response.status == .created)
        return object(response)
    }

    static func routingKeys(_ pool: DatabasePool) async throws -> [String] {
        try await pool.query("SELECT routing_key FROM outbox ORDER BY id").map { try $0.decode("routing_key", as: String.self) }
    }

    @Test func registeringCreatesTheAccountItsSessionAndTheEvents() async throws {
        try await withIdentity { client, pool, _ in
            let body = try await Self.register(client, email: " Ada@Example.com ")
            let user = try #require(body["user"] as? [String: Any])
            #expect(user["email"] as? String == "Ada@Example.com")
            #expect(user["name"] as? String == "Ada")
            #expect(user["role"] as? String == "USER")
            #expect(user["emailVerified"] as? Bool == false)
            #expect((body["accessToken"] as? String)?.isEmpty == false)
            #expect((body["refreshToken"] as? String)?.count == 43)
            #expect(body["expiresIn"] as? Int == 900)

            #expect(try await pool.query("SELECT 1 FROM sessions").count == 1)
            #expect(try await pool.query("SELECT 1 FROM one_time_tokens WHERE purpose = 'verify_email'").count == 1)
            #expect(try await Self.routingKeys(pool) == [
                "identity.user.registered.v1", "identity.email.verification_requested.v2", "identity.email.verification_link.v1",
            ])

            // The same address again, in another case.
            let again = try await Self.post(client, "/v1/auth/register", ["email": "ada@example.COM", "password": "another one", "name": "Ada"])
            #expect(again.status == .conflict)
            #expect(Self.object(again)["code"] as? String == "email_taken")
        }
    }

    @Test func anInvalidRegistrationListsEveryBadField() async throws {
        try await withIdentity { client, pool, _ in
            let response = try await Self.post(client, "/v1/auth/register", ["email": "nope", "password": "short"])
            #expect(response.status == .unprocessableContent)
            let body = Self.object(response)
            #expect(body["code"] as? String == "validation_failed")
            let errors = (body["errors"] as? [[String: String]]) ?? []
            #expect(Dictionary(uniqueKeysWithValues: errors.map { ($0["field"] ?? "", $0["code"] ?? "") })
                == ["email": "invalid_email", "password": "too_short", "name": "required"])
            #expect(try await pool.query("SELECT 1 FROM users").isEmpty)
            #expect(try await Self.routingKeys(pool).isEmpty)

            let malformed = try await client.execute(
                uri: "/v1/auth/login", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: "{"))
            #expect(malformed.status == .badRequest)
            #expect(Self.object(malformed)["code"] as? String == "malformed_request")
        }
    }

    @Test func signingInWithTheRightAndAWrongPassword() async throws {
        try await withIdentity { client, pool, _ in
            _ = try await Self.register(client)
            let login = try await Self.post(client, "/v1/auth/login", ["email": "ADA@example.com", "password": "correct horse"])
            #expect(login.status == .ok)
            let body = Self.object(login)
            #expect((body["user"] as? [String: Any])?["email"] as? String == "ada@example.com")
            #expect(body["refreshToken"] is String)
            #expect(try await pool.query("SELECT 1 FROM sessions").count == 2)
            #expect(try await Self.routingKeys(pool).last == "identity.user.logged_in.v1")

            for (email, password) in [("ada@example.com", "wrong horse"), ("nobody@example.com", "correct horse")] {
                let refused = try await Self.post(client, "/v1/auth/login", ["email": email, "password": password])
                #expect(refused.status == .unauthorized)
                #expect(Self.object(refused)["code"] as? String == "invalid_credentials")
            }
            let missing = try await Self.post(client, "/v1/auth/login", ["email": " "])
            #expect(missing.status == .unprocessableContent)
            #expect(((Self.object(missing)["errors"] as? [[String: String]]) ?? []).map { $0["field"] } == ["email", "password"])
        }
    }

    @Test func tooManyWrongPasswordsAreRefusedWithRetryAfter() async throws {
        var throttle = Throttle()
        throttle.perAccountAndAddress = 2
        try await withIdentity(throttle: throttle) { client, _, _ in
            _ = try await Self.register(client)
            for _ in 0..<2 {
                let wrong = try await Self.post(client, "/v1/auth/login", ["email": "ada@example.com", "password": "wrong horse"])
                #expect(wrong.status == .unauthorized)
            }
            // Even the right password waits now: the limit is on attempts, not on failures.
            let throttled = try await Self.post(client, "/v1/auth/login", ["email": "ada@example.com", "password": "correct horse"])
            #expect(throttled.status == .tooManyRequests)
            #expect(Self.object(throttled)["code"] as? String == "too_many_attempts")
            #expect(Self.object(throttled)["title"] as? String == "Too many sign-in attempts; try again later")
            let retryAfter = try #require(throttled.headers[.retryAfter].flatMap { Int($0) })
            #expect((1...900).contains(retryAfter))
            // Another account from the same address is not held up by these guesses.
            _ = try await Self.register(client, email: "grace@example.com")
            let other = try await Self.post(client, "/v1/auth/login", ["email": "grace@example.com", "password": "correct horse"])
            #expect(other.status == .ok)
        }
    }

    @Test func aRefreshTokenIsGoodOnceAndItsReuseEndsTheSession() async throws {
        try await withIdentity { client, _, _ in
            let first = try #require(try await Self.register(client)["refreshToken"] as? String)
            let refreshed = try await Self.post(client, "/v1/auth/refresh", ["refreshToken": first])
            #expect(refreshed.status == .ok)
            let second = try #require(Self.object(refreshed)["refreshToken"] as? String)
            #expect(second != first)

            let reused = try await Self.post(client, "/v1/auth/refresh", ["refreshToken": first])
            #expect(reused.status == .unauthorized)
            #expect(Self.object(reused)["code"] as? String == "refresh_token_reused")
            // The session is over: its current token no longer works either.
            let after = try await Self.post(client, "/v1/auth/refresh", ["refreshToken": second])
            #expect(after.status == .unauthorized)
            #expect(Self.object(after)["code"] as? String == "invalid_refresh_token")

            let empty = try await Self.post(client, "/v1/auth/refresh", [:])
            #expect(empty.status == .unprocessableContent)
            #expect(((Self.object(empty)["errors"] as? [[String: String]]) ?? []).first?["field"] == "refreshToken")
        }
    }

    @Test func meTakesAValidToken() async throws {
        try await withIdentity { client, _, tokens in
            let registered = try await Self.register(client)
            let access = try #require(registered["accessToken"] as? String)

            let anonymous = try await client.execute(uri: "/v1/me", method: .get)
            #expect(anonymous.status == .unauthorized)
            #expect(Self.object(anonymous)["code"] as? String == "unauthenticated")
            let forged = try await client.execute(uri: "/v1/me", method: .get, headers: [.authorization: "Bearer not-a-token"])
            #expect(forged.status == .unauthorized)

            let me = try await client.execute(uri: "/v1/me", method: .get, headers: [.authorization: "Bearer \(access)"])
            #expect(me.status == .ok)
            #expect(Self.object(me)["email"] as? String == "ada@example.com")

            let patched = try await client.execute(
                uri: "/v1/me", method: .patch, headers: [.authorization: "Bearer \(access)", .contentType: "application/json"],
                body: Self.json(["name": " Ada L. ", "weeklyHours": 5]))
            #expect(patched.status == .ok)
            #expect(Self.object(patched)["name"] as? String == "Ada L.")
            #expect(Self.object(patched)["weeklyHours"] as? Int == 5)

            // A new address takes the current password.
            let moved = try await client.execute(
                uri: "/v1/me", method: .patch, headers: [.authorization: "Bearer \(access)", .contentType: "application/json"],
                body: Self.json(["email": "ada@elsewhere.example"]))
            #expect(moved.status == .unprocessableContent)
            #expect(((Self.object(moved)["errors"] as? [[String: String]]) ?? []).map { $0["field"] } == ["currentPassword"])

            // A valid token of a user who does not exist.
            let stranger = try await client.execute(uri: "/v1/me", method: .get, headers: [.authorization: try await tokens.bearer()])
            #expect(stranger.status == .notFound)
        }
    }

    @Test func adminsListUsersAndLearnersAreRefused() async throws {
        try await withIdentity { client, _, tokens in
            for email in ["ada@example.com", "grace@example.com", "alan@example.com"] { _ = try await Self.register(client, email: email) }
            let admin = try await tokens.bearer(role: "ADMIN")

            let page = try await client.execute(uri: "/v1/identity/admin/users?limit=2", method: .get, headers: [.authorization: admin])
            #expect(page.status == .ok)
            let body = Self.object(page)
            #expect(((body["items"] as? [[String: Any]]) ?? []).compactMap { $0["email"] as? String } == ["alan@example.com", "grace@example.com"])
            let cursor = try #require(body["nextCursor"] as? String)
            let next = try await client.execute(uri: "/v1/identity/admin/users?limit=2&cursor=\(cursor)", method: .get, headers: [.authorization: admin])
            #expect(((Self.object(next)["items"] as? [[String: Any]]) ?? []).compactMap { $0["email"] as? String } == ["ada@example.com"])
            #expect(Self.object(next)["nextCursor"] == nil)

            let bad = try await client.execute(uri: "/v1/identity/admin/users?limit=0", method: .get, headers: [.authorization: admin])
            #expect(bad.status == .unprocessableContent)

            let learner = try await client.execute(uri: "/v1/identity/admin/users", method: .get, headers: [.authorization: try await tokens.bearer()])
            #expect(learner.status == .forbidden)
            #expect(Self.object(learner)["code"] as? String == "admin_only")
        }
    }

    @Test func roleChangesAreAuditedAndTheLastAdminStays() async throws {
        try await withIdentity { client, pool, tokens in
            let user = try #require((try await Self.register(client)["user"] as? [String: Any])?["id"] as? String)
            let actor = UUID()
            let admin = try await tokens.bearer(for: actor, role: "ADMIN")
            func role(_ role: String, by bearer: String) async throws -> TestResponse {
                try await client.execute(
                    uri: "/v1/identity/admin/users/\(user)/role", method: .put,
                    headers: [.authorization: bearer, .contentType: "application/json"], body: Self.json(["role": role]))
            }
            let promoted = try await role("ADMIN", by: admin)
            #expect(promoted.status == .ok)
            #expect(Self.object(promoted)["role"] as? String == "ADMIN")
            #expect(try await Self.routingKeys(pool).last == "identity.user.role_changed.v1")
            let audit = try await client.execute(uri: "/v1/identity/admin/users/\(user)/audit", method: .get, headers: [.authorization: admin])
            let entries = (Self.object(audit)["items"] as? [[String: Any]]) ?? []
            #expect(entries.count == 1)
            #expect(entries.first?["actorId"] as? String == actor.uuidString.lowercased())
            #expect(entries.first?["details"] as? [String: String] == ["from": "USER", "to": "ADMIN"])

            // Now the only admin in the table: they cannot stop being one.
            let demoted = try await role("USER", by: admin)
            #expect(demoted.status == .conflict)
            #expect(Self.object(demoted)["code"] as? String == "last_admin")
            #expect(Self.object(demoted)["title"] as? String == "The last admin cannot stop being one")

            let unknown = try await client.execute(
                uri: "/v1/identity/admin/users/\(UUID().uuidString)/role", method: .put,
                headers: [.authorization: admin, .contentType: "application/json"], body: Self.json(["role": "ADMIN"]))
            #expect(unknown.status == .notFound)
            let invalid = try await role("ROOT", by: admin)
            #expect(invalid.status == .unprocessableContent)
        }
    }

    @Test func anOperatorsTakeOverGoesThroughTheAuditedRoleChange() async throws {
        try await withIdentity { client, pool, _ in
            let user = try #require(UUID(uuidString: (try await Self.register(client)["user"] as? [String: Any])?["id"] as? String ?? ""))
            let users = UserRepository(database: pool)
            let hasher = PasswordHasher(cost: 4)
            let hash = try await hasher.hash("the operator's")
            try await hasher.shutdown()
            let admin = try await users.changeRole(user, to: "ADMIN", by: user, replacingPassword: hash, now: Date())
            #expect(admin.role == "ADMIN")
            #expect(admin.passwordHash == hash)
            #expect(try await pool.query("SELECT 1 FROM sessions WHERE revoked_at IS NULL").isEmpty, "no session of before")
            #expect(try await pool.query("SELECT 1 FROM admin_audit WHERE action = 'role_changed' AND target_id = \(user)").count == 1)
            #expect(try await Self.routingKeys(pool).last == "identity.user.role_changed.v1")
            // The old password no longer signs in; the operator's does.
            let old = try await Self.post(client, "/v1/auth/login", ["email": "ada@example.com", "password": "correct horse"])
            #expect(old.status == .unauthorized)
            let new = try await Self.post(client, "/v1/auth/login", ["email": "ada@example.com", "password": "the operator's"])
            #expect((Self.object(new)["user"] as? [String: Any])?["role"] as? String == "ADMIN")
        }
    }

    @Test func passwordResetAnswersTheSameForUnknownAddresses() async throws {
        try await withIdentity { client, pool, _ in
            _ = try await Self.register(client)
            for email in ["ada@example.com", "nobody@example.com"] {
                let asked = try await Self.post(client, "/v1/auth/password-reset", ["email": email])
                #expect(asked.status == .accepted)
            }
            #expect(try await pool.query("SELECT 1 FROM one_time_tokens WHERE purpose = 'reset_password'").count == 1)
            #expect(try await Self.routingKeys(pool).suffix(2) == ["identity.password.reset_requested.v2", "identity.password.reset_link.v1"])
            let used = try await Self.post(client, "/v1/auth/password-reset/confirm", ["token": "made-up", "password": "a new password"])
            #expect(used.status == .badRequest)
            #expect(Self.object(used)["code"] as? String == "invalid_link")
        }
    }
}
