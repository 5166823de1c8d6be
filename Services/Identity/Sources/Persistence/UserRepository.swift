import Contracts
import Database
import Foundation
import ServiceKit

/// A user as identity stores it.
public struct User: Sendable, Equatable, Codable {
    public var id: UUID
    public var email: String
    public var name: String
    public var role: String
    public var emailVerified: Bool
    public var marketingOptOut: Bool
    public var onboardingComplete: Bool
    public var accessOverride: Bool
    public var timeZone: String?
    public var userType: String?
    public var buildGoal: String?
    public var experienceLevel: String?
    public var skillLevel: String?
    public var learningStyle: String?
    public var weeklyHours: Int?
    public var lastLoginAt: Date?
    public var createdAt: Date
    var version: Int64
    var passwordHash: String?

    static let columns = """
        id, email, name, role, email_verified_at, marketing_opt_out, onboarding_complete, access_override, time_zone,
        user_type, build_goal, experience_level, skill_level, learning_style, weekly_hours, last_login_at, created_at,
        version, password_hash
        """

    init(row: Row) throws {
        id = try row.decode("id")
        email = try row.decode("email")
        name = try row.decode("name")
        role = try row.decode("role")
        emailVerified = try row.decode("email_verified_at", as: Date?.self) != nil
        marketingOptOut = try row.decode("marketing_opt_out")
        onboardingComplete = try row.decode("onboarding_complete")
        accessOverride = try row.decode("access_override")
        timeZone = try row.decode("time_zone", as: String?.self)
        userType = try row.decode("user_type", as: String?.self)
        buildGoal = try row.decode("build_goal", as: String?.self)
        experienceLevel = try row.decode("experience_level", as: String?.self)
        skillLevel = try row.decode("skill_level", as: String?.self)
        learningStyle = try row.decode("learning_style", as: String?.self)
        weeklyHours = try row.decode("weekly_hours", as: Int?.self)
        lastLoginAt = try row.decode("last_login_at", as: Date?.self)
        createdAt = try row.decode("created_at")
        version = try row.decode("version")
        passwordHash = try row.decode("password_hash", as: String?.self)
    }

    /// The profile as `identity.user.profile_updated.v1` carries it.
    func profileEvent(at time: Date) -> CloudEvent<IdentityUserProfileUpdatedV1> {
        CloudEvent(
            IdentityUserProfileUpdatedV1(
                userId: id.lowercased, email: email, name: name, emailVerified: emailVerified, marketingOptOut: marketingOptOut,
                onboardingComplete: onboardingComplete, timeZone: timeZone, userType: userType, buildGoal: buildGoal,
                experienceLevel: experienceLevel, skillLevel: skillLevel, learningStyle: learningStyle, weeklyHours: weeklyHours,
                updatedAt: time),
            sequence: version, time: time)
    }
}

public enum IdentityError: Error, Equatable {
    case emailTaken
    case invalidCredentials
    case invalidRefreshToken
    case refreshTokenReused
    case invalidOneTimeToken
    case notFound
    case lastAdmin
}

/// A session's tokens as handed to the client.
public struct IssuedSession: Sendable {
    public var user: User
    public var refreshToken: String
}

/// Users, sessions and one-time tokens in the `identity` schema. Every change commits with the
/// events that describe it, through the outbox.
public struct UserRepository: Sendable {
    let database: DatabasePool

    public init(database: DatabasePool) {
        self.database = database
    }

    // MARK: Reading

    func user(_ id: UUID, on connection: PostgresConnection, forUpdate: Bool = false) throws -> User? {
        try connection.query("SELECT \(unsafeRaw: User.columns) FROM users WHERE id = \(id)\(unsafeRaw: forUpdate ? " FOR UPDATE" : "")")
            .first.map(User.init(row:))
    }

    public func user(_ id: UUID) async throws -> User? {
        try await database.withConnection { try self.user(id, on: $0) }
    }

    public func user(email: String) async throws -> User? {
        try await database.withConnection { connection in
            try connection.query("SELECT \(unsafeRaw: User.columns) FROM users WHERE lower(email) = lower(\(email))")
                .first.map(User.init(row:))
        }
    }

    // MARK: Registration and sessions

    /// Creates the user, their first session, the verification link and the events, in one
    /// transaction: all of it commits or none.
    public func register(
        id: UUID, email: String, name: String, passwordHash: String?, role: String = "USER", emailVerified: Bool = false,
        refreshTokenHash: Data, verification: OneTimeToken?, verificationURL: (String) -> String, now: Date
    ) async throws -> User {
        let verificationLink = verification.map { verificationURL($0.token) }
        do {
            return try await database.transaction { connection in
                try connection.execute(
                    """
                    INSERT INTO users (id, email, password_hash, name, role, email_verified_at, version, created_at, updated_at)
                    VALUES (\(id), \(email), \(passwordHash), \(name), \(role), \(emailVerified ? now : nil), 1, \(now), \(now))
                    """)
                try self.createSession(userID: id, refreshTokenHash: refreshTokenHash, now: now, on: connection)
                let user = try self.user(id, on: connection)!
                try Outbox.enqueue(
                    CloudEvent(
                        IdentityUserRegisteredV1(
                            userId: id.lowercased, email: email, name: name, role: role, emailVerified: emailVerified,
                            marketingOptOut: false, registeredAt: now),
                        sequence: 1, time: now),
                    on: connection)
                if let verification, let verificationLink {
                    try self.requestVerification(user: user, token: verification, link: verificationLink, now: now, on: connection)
                }
                return user
            }
        } catch DatabaseError.uniqueViolation(let error) where error.constraint == "users_email_unique" {
            throw IdentityError.emailTaken
        }
    }

    func createSession(userID: UUID, refreshTokenHash: Data, now: Date, on connection: PostgresConnection) throws {
        try connection.execute(
            """
            INSERT INTO sessions (id, user_id, refresh_token_hash, created_at, expires_at)
            VALUES (\(UUIDv7.make()), \(userID), \(refreshTokenHash), \(now), \(now.addingTimeInterval(TokenIssuer.refreshTokenLifetime)))
            """)
    }

    /// A successful sign-in: a new session, `lastLoginAt`, and the event.
    public func signedIn(_ userID: UUID, refreshTokenHash: Data, method: String, provider: String? = nil, now: Date) async throws -> User {
        try await database.transaction { connection in
            try connection.execute("UPDATE users SET last_login_at = \(now) WHERE id = \(userID)")
            try self.createSession(userID: userID, refreshTokenHash: refreshTokenHash, now: now, on: connection)
            try Outbox.enqueue(
                CloudEvent(IdentityUserLoggedInV1(userId: userID.lowercased, method: method, provider: provider, loggedInAt: now), sequence: 0, time: now),
                on: connection)
            guard let user = try self.user(userID, on: connection) else { throw IdentityError.notFound }
            return user
        }
    }

    /// Exchanges a refresh token for a new one. A token presented a second time means it was
    /// copied: the whole session is revoked.
    public func rotate(refreshTokenHash: Data, newHash: Data, now: Date) async throws -> User {
        let result: Result<User, IdentityError> = try await database.transaction { connection in
            if let row = try connection.query(
                """
                SELECT id, user_id, expires_at, revoked_at FROM sessions WHERE refresh_token_hash = \(refreshTokenHash) FOR UPDATE
                """
            ).first {
                let sessionID = try row.decode("id", as: UUID.self)
                guard try row.decode("revoked_at", as: Date?.self) == nil, try row.decode("expires_at", as: Date.self) > now else {
                    return .failure(.invalidRefreshToken)
                }
                try connection.execute("INSERT INTO rotated_refresh_tokens (hash, session_id, rotated_at) VALUES (\(refreshTokenHash), \(sessionID), \(now))")
                try connection.execute("UPDATE sessions SET refresh_token_hash = \(newHash) WHERE id = \(sessionID)")
                guard let user = try self.user(try row.decode("user_id"), on: connection) else { return .failure(.invalidRefreshToken) }
                return .success(user)
            }
            if let reused = try connection.query("SELECT session_id FROM rotated_refresh_tokens WHERE hash = \(refreshTokenHash)").first {
                try connection.execute("UPDATE sessions SET revoked_at = \(now) WHERE id = \(try reused.decode("session_id", as: UUID.self)) AND revoked_at IS NULL")
                return .failure(.refreshTokenReused)
            }
            return .failure(.invalidRefreshToken)
        }
        return try result.get()
    }

    /// Ends the session of a refresh token; true when there was one.
    public func revoke(refreshTokenHash: Data, now: Date) async throws -> Bool {
        try await database.execute(
            "UPDATE sessions SET revoked_at = \(now) WHERE refresh_token_hash = \(refreshTokenHash) AND revoked_at IS NULL"
        ).affectedRows == 1
    }

    /// Ends every session of a user; returns how many.
    @discardableResult
    public func revokeAll(userID: UUID, now: Date) async throws -> Int {
        try await database.execute("UPDATE sessions SET revoked_at = \(now) WHERE user_id = \(userID) AND revoked_at IS NULL").affectedRows
    }

    // MARK: Throttling

    /// Failed sign-ins for `keys` within `window`, counted and recorded atomically per key.
    public func recentFailures(keys: [String], since: Date) async throws -> [String: (count: Int, oldest: Date?)] {
        try await database.withConnection { connection in
            var result: [String: (Int, Date?)] = [:]
            for row in try connection.query(
                "SELECT key, count(*) AS n, min(failed_at) AS oldest FROM login_failures WHERE key = ANY(\(array: keys)) AND failed_at > \(since) GROUP BY key")
            {
                result[try row.decode("key")] = (try row.decode("n", as: Int.self), try row.decode("oldest", as: Date?.self))
            }
            return result
        }
    }

    public func recordFailure(keys: [String], now: Date, pruneBefore: Date) async throws {
        try await database.transaction { connection in
            for key in keys { try connection.execute("INSERT INTO login_failures (key, failed_at) VALUES (\(key), \(now))") }
            try connection.execute("DELETE FROM login_failures WHERE key = ANY(\(array: keys)) AND failed_at < \(pruneBefore)")
        }
    }

    /// Clears an account's failed sign-ins after a success.
    public func recordSuccess(email: String) async throws {
        try await database.execute("DELETE FROM login_failures WHERE key = \("email:" + EmailAddress.normalized(email))")
    }

    // MARK: One-time links

    /// A new verification link for a user whose email is not verified yet.
    public func resendVerification(_ user: User, token: OneTimeToken, settings: IdentitySettings, now: Date) async throws {
        try await database.transaction { connection in
            try self.requestVerification(user: user, token: token, link: settings.verificationURL(token.token), now: now, on: connection)
        }
    }

    func requestVerification(user: User, token: OneTimeToken, link: String, now: Date, on connection: PostgresConnection) throws {
        try connection.execute(
            "UPDATE one_time_tokens SET used_at = \(now) WHERE user_id = \(user.id) AND purpose = 'verify_email' AND used_at IS NULL")
        try connection.execute(
            """
            INSERT INTO one_time_tokens (hash, purpose, user_id, email, expires_at)
            VALUES (\(token.hash), 'verify_email', \(user.id), \(user.email), \(token.expiresAt))
            """)
        // The fact goes on the public bus; the link only to notifications, privately.
        try Outbox.enqueue(
            CloudEvent(IdentityEmailVerificationRequestedV2(userId: user.id.lowercased, expiresAt: token.expiresAt), sequence: user.version, time: now),
            on: connection)
        try Outbox.enqueue(
            CloudEvent(
                IdentityEmailVerificationLinkV1(
                    userId: user.id.lowercased, email: user.email, name: user.name, verificationUrl: link, expiresAt: token.expiresAt),
                sequence: user.version, time: now),
            on: connection)
    }

    /// Follows a verification link: the email it was sent to becomes verified (once).
    public func verifyEmail(tokenHash: Data, now: Date) async throws -> User {
        let result: Result<User, IdentityError> = try await database.transaction { connection in
            guard let row = try connection.query(
                """
                UPDATE one_time_tokens SET used_at = \(now)
                WHERE hash = \(tokenHash) AND purpose = 'verify_email' AND used_at IS NULL AND expires_at > \(now)
                RETURNING user_id, email
                """
            ).first else { return .failure(.invalidOneTimeToken) }
            let userID = try row.decode("user_id", as: UUID.self)
            let changed = try connection.execute(
                """
                UPDATE users SET email_verified_at = \(now), version = version + 1, updated_at = \(now)
                WHERE id = \(userID) AND lower(email) = lower(\(try row.decode("email", as: String.self)))
                """
            ).affectedRows
            guard changed == 1, let user = try self.user(userID, on: connection) else { return .failure(.invalidOneTimeToken) }
            try Outbox.enqueue(user.profileEvent(at: now), on: connection)
            return .success(user)
        }
        return try result.get()
    }

    /// Records a reset link for the user and the event that mails it.
    public func requestPasswordReset(userID: UUID, token: OneTimeToken, link: String, now: Date) async throws {
        try await database.transaction { connection in
            guard let user = try self.user(userID, on: connection) else { return }
            try connection.execute(
                "UPDATE one_time_tokens SET used_at = \(now) WHERE user_id = \(userID) AND purpose = 'reset_password' AND used_at IS NULL")
            try connection.execute(
                """
                INSERT INTO one_time_tokens (hash, purpose, user_id, email, expires_at)
                VALUES (\(token.hash), 'reset_password', \(userID), \(user.email), \(token.expiresAt))
                """)
            // The fact goes on the public bus; the link only to notifications, privately.
            try Outbox.enqueue(
                CloudEvent(IdentityPasswordResetRequestedV2(userId: userID.lowercased, expiresAt: token.expiresAt), sequence: user.version, time: now),
                on: connection)
            try Outbox.enqueue(
                CloudEvent(
                    IdentityPasswordResetLinkV1(
                        userId: userID.lowercased, email: user.email, name: user.name, resetUrl: link, expiresAt: token.expiresAt),
                    sequence: user.version, time: now),
                on: connection)
        }
    }

    /// Whether a reset link can still be used, and until when (it is not used up by asking).
    public func resetLinkExpiry(tokenHash: Data, now: Date) async throws -> Date? {
        try await database.query(
            "SELECT expires_at FROM one_time_tokens WHERE hash = \(tokenHash) AND purpose = 'reset_password' AND used_at IS NULL AND expires_at > \(now)"
        ).first?.decode("expires_at", as: Date.self)
    }

    /// Counts a request against a key (reset links per address); returns how many were made in
    /// the window, this one included. Known and unknown addresses cost the same write.
    public func countRequest(key: String, now: Date, window: TimeInterval) async throws -> Int {
        try await database.transaction { connection in
            try connection.execute("DELETE FROM login_failures WHERE key = \(key) AND failed_at < \(now.addingTimeInterval(-window))")
            try connection.execute("INSERT INTO login_failures (key, failed_at) VALUES (\(key), \(now))")
            return try connection.query("SELECT count(*) AS n FROM login_failures WHERE key = \(key)").first?.decode("n", as: Int.self) ?? 1
        }
    }

    /// Uses a reset link: the new password is set and every session ends.
    public func resetPassword(tokenHash: Data, passwordHash: String, now: Date) async throws {
        let result: Result<Void, IdentityError> = try await database.transaction { connection in
            guard let row = try connection.query(
                """
                UPDATE one_time_tokens SET used_at = \(now)
                WHERE hash = \(tokenHash) AND purpose = 'reset_password' AND used_at IS NULL AND expires_at > \(now)
                RETURNING user_id
                """
            ).first else { return .failure(.invalidOneTimeToken) }
            let userID = try row.decode("user_id", as: UUID.self)
            try connection.execute("UPDATE users SET password_hash = \(passwordHash), updated_at = \(now) WHERE id = \(userID)")
            try connection.execute("UPDATE sessions SET revoked_at = \(now) WHERE user_id = \(userID) AND revoked_at IS NULL")
            return .success(())
        }
        try result.get()
    }

    // MARK: Profile

    /// Applies `change` to the user's profile; publishes the whole new profile when anything
    /// changed, and a verification link when the email did.
    public func updateProfile(
        _ userID: UUID, now: Date, verification: OneTimeToken, verificationURL: @escaping @Sendable (String) -> String,
        _ change: @escaping @Sendable (inout User) -> Void
    ) async throws -> User {
        do {
            let result: Result<User, IdentityError> = try await database.transaction { connection in
                guard let before = try self.user(userID, on: connection, forUpdate: true) else { return .failure(.notFound) }
                var after = before
                change(&after)
                if after == before { return .success(before) }
                let emailChanged = after.email.lowercased() != before.email.lowercased()
                try connection.execute(
                    """
                    UPDATE users SET
                        email = \(after.email), name = \(after.name), marketing_opt_out = \(after.marketingOptOut),
                        onboarding_complete = \(after.onboardingComplete), time_zone = \(after.timeZone), user_type = \(after.userType),
                        build_goal = \(after.buildGoal), experience_level = \(after.experienceLevel), skill_level = \(after.skillLevel),
                        learning_style = \(after.learningStyle), weekly_hours = \(after.weeklyHours),
                        email_verified_at = CASE WHEN \(emailChanged) THEN NULL ELSE email_verified_at END,
                        version = version + 1, updated_at = \(now)
                    WHERE id = \(userID)
                    """)
                let user = try self.user(userID, on: connection)!
                try Outbox.enqueue(user.profileEvent(at: now), on: connection)
                if emailChanged {
                    try self.requestVerification(user: user, token: verification, link: verificationURL(verification.token), now: now, on: connection)
                }
                return .success(user)
            }
            return try result.get()
        } catch DatabaseError.uniqueViolation(let error) where error.constraint == "users_email_unique" {
            throw IdentityError.emailTaken
        }
    }

    /// Applies a consent change made through an unsubscribe link (notifications), unless a newer
    /// one was applied already.
    func applyConsent(_ event: CloudEvent<NotificationsConsentChangedV1>, on connection: PostgresConnection) throws {
        guard let userID = UUID(uuidString: event.data.userId) else { throw ConsumeFailure.undecodable("userId") }
        guard try AggregateVersions.advance("consent", id: event.data.userId, to: event.sequenceNumber, on: connection) else { return }
        guard let user = try self.user(userID, on: connection, forUpdate: true), user.marketingOptOut != event.data.marketingOptOut else { return }
        try connection.execute(
            "UPDATE users SET marketing_opt_out = \(event.data.marketingOptOut), version = version + 1, updated_at = \(event.time) WHERE id = \(userID)")
        try Outbox.enqueue(try self.user(userID, on: connection)!.profileEvent(at: Date()), on: connection)
    }

    // MARK: Deletion

    /// Erases the user (sessions, tokens and links go with it), keeps a tombstone and publishes
    /// `identity.user.deleted.v1`.
    public func delete(_ userID: UUID, by actor: String, auditedBy admin: UUID? = nil, now: Date) async throws {
        let result: Result<Void, IdentityError> = try await database.transaction { connection in
            // Admins first, in id order, then the user: the same lock order as role changes, so
            // two such requests wait for each other instead of deadlocking.
            let admins = try connection.query("SELECT id FROM users WHERE role = 'ADMIN' ORDER BY id FOR UPDATE").map { try $0.decode("id", as: UUID.self) }
            guard let user = try self.user(userID, on: connection, forUpdate: true) else { return .failure(.notFound) }
            if user.role == "ADMIN", admins == [userID] { return .failure(.lastAdmin) }
            if let admin { try self.audit(actor: admin, action: "user_deleted", target: userID, details: ["email": user.email], now: now, on: connection) }
            try connection.execute("DELETE FROM users WHERE id = \(userID)")
            try connection.execute("INSERT INTO user_tombstones (user_id, deleted_at) VALUES (\(userID), \(now)) ON CONFLICT DO NOTHING")
            try Outbox.enqueue(
                CloudEvent(IdentityUserDeletedV1(userId: userID.lowercased, deletedBy: actor, deletedAt: now), sequence: user.version + 1, time: now),
                on: connection)
            return .success(())
        }
        try result.get()
    }
}

/// A single-use token for a link: the token goes into the link, only its hash is stored.
public struct OneTimeToken: Sendable {
    public let token: String
    public let hash: Data
    public let expiresAt: Date

    public static func make(lifetime: TimeInterval, now: Date) -> OneTimeToken {
        let (token, hash) = TokenIssuer.newRefreshToken()
        return OneTimeToken(token: token, hash: hash, expiresAt: now.addingTimeInterval(lifetime))
    }
}
