import Contracts
import Database
import Foundation
import ServiceKit

extension User {
    static let columns = """
        id, email, name, role, email_verified_at, marketing_opt_out, onboarding_complete, access_override, time_zone,
        user_type, build_goal, experience_level, skill_level, learning_style, weekly_hours, last_login_at, created_at,
        version, password_hash, pending_email
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
        pendingEmail = try row.decode("pending_email", as: String?.self)
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

/// An email change asked for: a verification link for the new address, and a link for the old
/// one that takes the account back.
public struct EmailChange: Sendable {
    public var newEmail: String
    public var verification: OneTimeToken
    public var verificationLink: String
    public var revert: OneTimeToken
    public var revertLink: String
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
            throw DomainError.emailTaken
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
            guard let user = try self.user(userID, on: connection) else { throw DomainError.userNotFound }
            return user
        }
    }

    /// Exchanges a refresh token for a new one, as `SessionRotation` decides: a token presented
    /// a second time means it was copied, and the whole session is revoked (that commits; the
    /// exchange is refused).
    public func rotate(refreshTokenHash: Data, newHash: Data, now: Date) async throws -> User {
        let result: Result<User, DomainError> = try await database.transaction { connection in
            let current = try connection.query(
                """
                SELECT id, user_id, expires_at, revoked_at FROM sessions WHERE refresh_token_hash = \(refreshTokenHash) FOR UPDATE
                """
            ).first
            let rotated = current != nil ? nil : try connection.query(
                "SELECT session_id FROM rotated_refresh_tokens WHERE hash = \(refreshTokenHash)").first
            let session = try current.map { (revokedAt: try $0.decode("revoked_at", as: Date?.self), expiresAt: try $0.decode("expires_at", as: Date.self)) }
            switch SessionRotation.decide(session: session, rotatedBefore: rotated != nil, now: now) {
            case .rotate:
                guard let current else { return .failure(.invalidRefreshToken) }
                let sessionID = try current.decode("id", as: UUID.self)
                try connection.execute("INSERT INTO rotated_refresh_tokens (hash, session_id, rotated_at) VALUES (\(refreshTokenHash), \(sessionID), \(now))")
                try connection.execute("UPDATE sessions SET refresh_token_hash = \(newHash) WHERE id = \(sessionID)")
                guard let user = try self.user(try current.decode("user_id"), on: connection) else { return .failure(.invalidRefreshToken) }
                return .success(user)
            case .reused:
                if let rotated {
                    try connection.execute("UPDATE sessions SET revoked_at = \(now) WHERE id = \(try rotated.decode("session_id", as: UUID.self)) AND revoked_at IS NULL")
                }
                return .failure(.refreshTokenReused)
            case .invalid:
                return .failure(.invalidRefreshToken)
            }
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

    // MARK: One-time links

    /// A new verification link: for the pending new address when there is one, else for the
    /// account's address while it is not verified; nothing otherwise.
    public func resendVerification(_ userID: UUID, token: OneTimeToken, link: String, now: Date) async throws {
        try await database.transaction { connection in
            guard let user = try self.user(userID, on: connection, forUpdate: true) else { throw DomainError.userNotFound }
            guard let address = user.pendingEmail ?? (user.emailVerified ? nil : user.email) else { return }
            try self.requestVerification(user: user, address: address, token: token, link: link, now: now, on: connection)
        }
    }

    /// Makes `token` the user's only verification link, for `address` (the account's own by default).
    func requestVerification(
        user: User, address: String? = nil, token: OneTimeToken, link: String, now: Date, on connection: PostgresConnection
    ) throws {
        let address = address ?? user.email
        try connection.execute(
            "UPDATE one_time_tokens SET used_at = \(now) WHERE user_id = \(user.id) AND purpose = 'verify_email' AND used_at IS NULL")
        try connection.execute(
            """
            INSERT INTO one_time_tokens (hash, purpose, user_id, email, expires_at)
            VALUES (\(token.hash), 'verify_email', \(user.id), \(address), \(token.expiresAt))
            """)
        // The fact goes on the public bus; the link only to notifications, privately.
        try Outbox.enqueue(
            CloudEvent(IdentityEmailVerificationRequestedV2(userId: user.id.lowercased, expiresAt: token.expiresAt), sequence: user.version, time: now),
            on: connection)
        try Outbox.enqueue(
            CloudEvent(
                IdentityEmailVerificationLinkV1(
                    userId: user.id.lowercased, email: address, name: user.name, verificationUrl: link, expiresAt: token.expiresAt),
                sequence: user.version, time: now),
            on: connection)
    }

    /// Follows a verification link: the address it was sent to becomes verified (once). When it
    /// was sent to a pending new address, that address becomes the account's from now on.
    public func verifyEmail(tokenHash: Data, now: Date) async throws -> User {
        do {
            let result: Result<User, DomainError> = try await database.transaction { connection in
                guard let row = try connection.query(
                    """
                    UPDATE one_time_tokens SET used_at = \(now)
                    WHERE hash = \(tokenHash) AND purpose = 'verify_email' AND used_at IS NULL AND expires_at > \(now)
                    RETURNING user_id, email
                    """
                ).first else { return .failure(.invalidLink) }
                let userID = try row.decode("user_id", as: UUID.self)
                let address = try row.decode("email", as: String.self)
                let changed = try connection.execute(
                    """
                    UPDATE users SET
                        email = CASE WHEN lower(pending_email) = lower(\(address)) THEN pending_email ELSE email END,
                        pending_email = CASE WHEN lower(pending_email) = lower(\(address)) THEN NULL ELSE pending_email END,
                        email_verified_at = \(now), version = version + 1, updated_at = \(now)
                    WHERE id = \(userID) AND (lower(email) = lower(\(address)) OR lower(pending_email) = lower(\(address)))
                    """
                ).affectedRows
                guard changed == 1, let user = try self.user(userID, on: connection) else { return .failure(.invalidLink) }
                try Outbox.enqueue(user.profileEvent(at: now), on: connection)
                return .success(user)
            }
            return try result.get()
        } catch DatabaseError.uniqueViolation(let error) where error.constraint == "users_email_unique" {
            // Another account took the address while this change waited.
            throw DomainError.emailTaken
        }
    }

    /// Follows the link mailed to the old address after an email change: the account gets that
    /// address back (verified: the link proved it), the pending change is dropped, every session
    /// ends, the password is removed, and providers linked since the change are unlinked —
    /// whoever made the change may know the password. A reset link goes to the restored address,
    /// so the owner sets a new password. Links of later changes stop working; earlier ones (older
    /// addresses) keep theirs.
    public func revertEmail(tokenHash: Data, reset: OneTimeToken, resetURL: @escaping @Sendable (String) -> String, now: Date) async throws -> User {
        do {
            let result: Result<User, DomainError> = try await database.transaction { connection in
                guard let row = try connection.query(
                    """
                    UPDATE one_time_tokens SET used_at = \(now)
                    WHERE hash = \(tokenHash) AND purpose = 'revert_email' AND used_at IS NULL AND expires_at > \(now)
                    RETURNING user_id, email, created_at
                    """
                ).first else { return .failure(.invalidLink) }
                let userID = try row.decode("user_id", as: UUID.self)
                let address = try row.decode("email", as: String.self)
                let changedAt = try row.decode("created_at", as: Date.self)
                guard try self.user(userID, on: connection, forUpdate: true) != nil else { return .failure(.invalidLink) }
                try connection.execute(
                    """
                    UPDATE one_time_tokens SET used_at = \(now)
                    WHERE user_id = \(userID) AND used_at IS NULL
                      AND (purpose IN ('verify_email', 'reset_password') OR (purpose = 'revert_email' AND created_at >= \(changedAt)))
                    """)
                try connection.execute(
                    """
                    UPDATE users SET email = \(address), pending_email = NULL, email_verified_at = \(now), password_hash = NULL,
                        version = version + 1, updated_at = \(now)
                    WHERE id = \(userID)
                    """)
                try connection.execute("UPDATE sessions SET revoked_at = \(now) WHERE user_id = \(userID) AND revoked_at IS NULL")
                try connection.execute("DELETE FROM accounts WHERE user_id = \(userID) AND created_at >= \(changedAt)")
                let user = try self.user(userID, on: connection)!
                try Outbox.enqueue(user.profileEvent(at: now), on: connection)
                try self.issueResetLink(user: user, token: reset, link: resetURL(reset.token), now: now, on: connection)
                return .success(user)
            }
            return try result.get()
        } catch DatabaseError.uniqueViolation(let error) where error.constraint == "users_email_unique" {
            // Another account has the old address now: it cannot come back to this one.
            throw DomainError.emailTaken
        }
    }

    /// Records a reset link for the user and the event that mails it.
    public func requestPasswordReset(userID: UUID, token: OneTimeToken, link: String, now: Date) async throws {
        try await database.transaction { connection in
            guard let user = try self.user(userID, on: connection) else { return }
            try self.issueResetLink(user: user, token: token, link: link, now: now, on: connection)
        }
    }

    func issueResetLink(user: User, token: OneTimeToken, link: String, now: Date, on connection: PostgresConnection) throws {
        let userID = user.id
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

    /// Whether a reset link can still be used, and until when (it is not used up by asking).
    public func resetLinkExpiry(tokenHash: Data, now: Date) async throws -> Date? {
        try await database.query(
            "SELECT expires_at FROM one_time_tokens WHERE hash = \(tokenHash) AND purpose = 'reset_password' AND used_at IS NULL AND expires_at > \(now)"
        ).first?.decode("expires_at", as: Date.self)
    }

    /// Whether a revert link can still be used: the address it restores and until when.
    public func revertLink(tokenHash: Data, now: Date) async throws -> (email: String, expiresAt: Date)? {
        guard let row = try await database.query(
            "SELECT email, expires_at FROM one_time_tokens WHERE hash = \(tokenHash) AND purpose = 'revert_email' AND used_at IS NULL AND expires_at > \(now)"
        ).first else { return nil }
        return (try row.decode("email"), try row.decode("expires_at"))
    }

    /// Takes a reset link (once) before any password is hashed, so a made-up or used token costs
    /// one query and no bcrypt. Returns the user it was for.
    public func claimResetLink(tokenHash: Data, now: Date) async throws -> UUID {
        guard let row = try await database.query(
            """
            UPDATE one_time_tokens SET used_at = \(now)
            WHERE hash = \(tokenHash) AND purpose = 'reset_password' AND used_at IS NULL AND expires_at > \(now)
            RETURNING user_id
            """
        ).first else { throw DomainError.invalidLink }
        return try row.decode("user_id", as: UUID.self)
    }

    /// Gives a claimed reset link back when the new password could not be hashed (the server was
    /// busy): it works again, unless a newer link was made meanwhile.
    public func unclaimResetLink(tokenHash: Data, claimedAt: Date) async throws {
        try await database.execute(
            """
            UPDATE one_time_tokens t SET used_at = NULL
            WHERE t.hash = \(tokenHash) AND t.used_at = \(claimedAt)
              AND NOT EXISTS (
                SELECT 1 FROM one_time_tokens n
                WHERE n.user_id = t.user_id AND n.purpose = 'reset_password' AND n.created_at > t.created_at)
            """)
    }

    /// Sets the password of a claimed reset link and ends every session.
    public func resetPassword(userID: UUID, passwordHash: String, now: Date) async throws {
        try await database.transaction { connection in
            try connection.execute("UPDATE users SET password_hash = \(passwordHash), updated_at = \(now) WHERE id = \(userID)")
            try connection.execute("UPDATE sessions SET revoked_at = \(now) WHERE user_id = \(userID) AND revoked_at IS NULL")
        }
    }

    // MARK: Profile

    /// Applies `change` to the user's profile; publishes the whole new profile when anything
    /// changed. A new address (`emailChange`, checked by the caller) does not replace the
    /// account's: it waits in `pendingEmail` for its verification link, and a revert link is
    /// stored for the old address. An address that differs only in case replaces the account's
    /// at once; the account's own address cancels a pending change.
    public func updateProfile(
        _ userID: UUID, now: Date, change: ProfileChange, email requested: String?, emailChange: EmailChange?
    ) async throws -> User {
        do {
            let result: Result<User, DomainError> = try await database.transaction { connection in
                guard let before = try self.user(userID, on: connection, forUpdate: true) else { return .failure(.userNotFound) }
                var after = before
                change.apply(to: &after)
                if let requested {
                    if requested.lowercased() == before.email.lowercased() {
                        after.email = requested
                        after.pendingEmail = nil
                    } else {
                        // The address the password was checked for is not the account's any more.
                        guard let emailChange, emailChange.newEmail == requested else { return .failure(.emailChanged) }
                        if try !connection.query(
                            "SELECT 1 FROM users WHERE lower(email) = lower(\(requested)) AND id <> \(userID)").isEmpty
                        {
                            return .failure(.emailTaken)
                        }
                        after.pendingEmail = requested
                    }
                }
                if after == before && emailChange == nil { return .success(before) }
                if after.pendingEmail == nil, before.pendingEmail != nil {
                    try connection.execute(
                        "UPDATE one_time_tokens SET used_at = \(now) WHERE user_id = \(userID) AND purpose = 'verify_email' AND used_at IS NULL")
                }
                var profileChanged = after
                profileChanged.pendingEmail = before.pendingEmail
                try connection.execute(
                    """
                    UPDATE users SET
                        email = \(after.email), name = \(after.name), marketing_opt_out = \(after.marketingOptOut),
                        onboarding_complete = \(after.onboardingComplete), time_zone = \(after.timeZone), user_type = \(after.userType),
                        build_goal = \(after.buildGoal), experience_level = \(after.experienceLevel), skill_level = \(after.skillLevel),
                        learning_style = \(after.learningStyle), weekly_hours = \(after.weeklyHours),
                        pending_email = \(after.pendingEmail),
                        version = version + 1, updated_at = \(now)
                    WHERE id = \(userID)
                    """)
                let user = try self.user(userID, on: connection)!
                // The public profile does not carry the pending address: only a real change is news.
                if profileChanged != before { try Outbox.enqueue(user.profileEvent(at: now), on: connection) }
                if let emailChange, after.pendingEmail == emailChange.newEmail {
                    try self.requestVerification(
                        user: user, address: emailChange.newEmail, token: emailChange.verification, link: emailChange.verificationLink,
                        now: now, on: connection)
                    // The old address gets a link that takes the account back, valid longer than the
                    // new address's link, so a change cannot be confirmed and the revert outlived.
                    try connection.execute(
                        """
                        INSERT INTO one_time_tokens (hash, purpose, user_id, email, expires_at)
                        VALUES (\(emailChange.revert.hash), 'revert_email', \(userID), \(before.email), \(emailChange.revert.expiresAt))
                        """)
                    // Told at the old address, privately (the link is a secret).
                    try Outbox.enqueue(
                        CloudEvent(
                            IdentityEmailChangeRequestedV1(
                                userId: userID.lowercased, email: before.email, name: user.name, newEmail: emailChange.newEmail,
                                revertUrl: emailChange.revertLink, expiresAt: emailChange.revert.expiresAt),
                            sequence: user.version, time: now),
                        on: connection)
                }
                return .success(user)
            }
            return try result.get()
        } catch DatabaseError.uniqueViolation(let error) where error.constraint == "users_email_unique" {
            throw DomainError.emailTaken
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
        let result: Result<Void, DomainError> = try await database.transaction { connection in
            // Admins first, in id order, then the user: the same lock order as role changes, so
            // two such requests wait for each other instead of deadlocking.
            let admins = try connection.query("SELECT id FROM users WHERE role = 'ADMIN' ORDER BY id FOR UPDATE").map { try $0.decode("id", as: UUID.self) }
            guard let user = try self.user(userID, on: connection, forUpdate: true) else { return .failure(.userNotFound) }
            if AdminRoster.wouldLoseLastAdmin(userID: userID, role: user.role, admins: admins) {
                return .failure(AdminRoster.refusal(admin == nil ? .selfDeletion : .deletion))
            }
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
