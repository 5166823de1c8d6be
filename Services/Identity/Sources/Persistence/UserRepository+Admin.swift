import Contracts
import Database
import Foundation
import ServiceKit

/// What admins do to users: every change is audited (who, what, when) and published.
extension UserRepository {
    /// Users whose email or name contains `query`, newest first, `limit` at a time after `cursor`
    /// (the last id of the previous page; ids are time-ordered).
    public func list(query: String?, limit: Int, after cursor: UUID?) async throws -> [User] {
        let pattern = query.map { "%" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_") + "%" }
        return try await database.withConnection { connection in
            try connection.query(
                """
                SELECT \(unsafeRaw: User.columns) FROM users
                WHERE (\(pattern)::text IS NULL OR email ILIKE \(pattern) OR name ILIKE \(pattern))
                  AND (\(cursor)::uuid IS NULL OR id < \(cursor))
                ORDER BY id DESC LIMIT \(limit)
                """
            ).map(User.init(row:))
        }
    }

    func audit(actor: UUID, action: String, target: UUID, details: [String: String], now: Date, on connection: PostgresConnection) throws {
        try connection.execute(
            "INSERT INTO admin_audit (actor_id, action, target_id, details, at) VALUES (\(actor), \(action), \(target), \(try JSONB(encoding: details)), \(now))")
    }

    /// Changes a role. The last admin cannot stop being one (`AdminRoster`): admins are locked
    /// while counted, so two admins demoting each other at once cannot both succeed.
    ///
    /// `replacingPassword` is for an operator taking an account over as its admin (`createAdmin`):
    /// the password becomes theirs and every session of before ends, even when the role stays.
    public func changeRole(_ userID: UUID, to role: String, by actor: UUID, replacingPassword passwordHash: String? = nil, now: Date) async throws -> User {
        let result: Result<User, DomainError> = try await database.transaction { connection in
            // Admins first, in id order, then the user: the same lock order as deletions.
            let admins = try connection.query("SELECT id FROM users WHERE role = 'ADMIN' ORDER BY id FOR UPDATE").map { try $0.decode("id", as: UUID.self) }
            guard let user = try self.user(userID, on: connection, forUpdate: true) else { return .failure(.userNotFound) }
            if user.role == role, passwordHash == nil { return .success(user) }
            if user.role != role, AdminRoster.wouldLoseLastAdmin(userID: userID, role: user.role, admins: admins) {
                return .failure(AdminRoster.refusal(.demotion))
            }
            try connection.execute(
                """
                UPDATE users SET role = \(role), password_hash = COALESCE(\(passwordHash)::text, password_hash), version = version + 1,
                    updated_at = \(now)
                WHERE id = \(userID)
                """)
            if passwordHash != nil {
                try connection.execute("UPDATE sessions SET revoked_at = \(now) WHERE user_id = \(userID) AND revoked_at IS NULL")
            }
            // Tokens carrying the old role stop counting here at once (other services learn it from the event).
            try AccessRevocations.revoke(userID, before: now, on: connection)
            let updated = try self.user(userID, on: connection)!
            guard user.role != role else { return .success(updated) }
            try self.audit(actor: actor, action: "role_changed", target: userID, details: ["from": user.role, "to": role], now: now, on: connection)
            try Outbox.enqueue(
                CloudEvent(
                    IdentityUserRoleChangedV1(userId: userID.lowercased, role: role, previousRole: user.role, changedBy: actor.lowercased, changedAt: now),
                    sequence: updated.version, time: now),
                on: connection)
            return .success(updated)
        }
        return try result.get()
    }

    /// Grants or removes free access (billing turns it into an entitlement).
    public func setAccessOverride(_ userID: UUID, to value: Bool, by actor: UUID, now: Date) async throws -> User {
        let result: Result<User, DomainError> = try await database.transaction { connection in
            guard let user = try self.user(userID, on: connection, forUpdate: true) else { return .failure(.userNotFound) }
            if user.accessOverride == value { return .success(user) }
            try connection.execute("UPDATE users SET access_override = \(value), version = version + 1, updated_at = \(now) WHERE id = \(userID)")
            try self.audit(actor: actor, action: "access_override_changed", target: userID, details: ["to": "\(value)"], now: now, on: connection)
            let updated = try self.user(userID, on: connection)!
            try Outbox.enqueue(
                CloudEvent(
                    IdentityUserAccessOverrideChangedV1(userId: userID.lowercased, accessOverride: value, changedBy: actor.lowercased, changedAt: now),
                    sequence: updated.version, time: now),
                on: connection)
            return .success(updated)
        }
        return try result.get()
    }

    /// The audit trail of a user, newest first.
    public func auditTrail(of userID: UUID) async throws -> [(actor: UUID, action: String, details: String, at: Date)] {
        try await database.query("SELECT actor_id, action, details::text AS details, at FROM admin_audit WHERE target_id = \(userID) ORDER BY id DESC")
            .map { (try $0.decode("actor_id"), try $0.decode("action"), try $0.decode("details"), try $0.decode("at")) }
    }
}
