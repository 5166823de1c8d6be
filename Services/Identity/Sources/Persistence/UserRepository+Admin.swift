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

    /// Changes a role. The last admin cannot stop being one: admins are locked while counted, so
    /// two admins demoting each other at once cannot both succeed.
    public func changeRole(_ userID: UUID, to role: String, by actor: UUID, now: Date) async throws -> User {
        let result: Result<User, IdentityError> = try await database.transaction { connection in
            let admins = try Self.lockAdmins(on: connection)
            guard let user = try self.user(userID, on: connection, forUpdate: true) else { return .failure(.notFound) }
            if user.role == role { return .success(user) }
            if Role(rawValue: user.role) == .admin, admins == [userID] { return .failure(.lastAdmin) }
            return .success(try self.applyRoleChange(of: user, to: role, by: actor, now: now, on: connection))
        }
        return try result.get()
    }

    /// Makes an account the operator's admin (`syllabus admin create` on an existing account): its
    /// password is the operator's from now on, no session or token of before counts, and the role
    /// change is made, audited and published as an admin's change of role is (the account acting
    /// on itself).
    public func makeAdmin(_ userID: UUID, passwordHash: String, now: Date) async throws {
        let result: Result<Void, IdentityError> = try await database.transaction { connection in
            _ = try Self.lockAdmins(on: connection)
            guard let user = try self.user(userID, on: connection, forUpdate: true) else { return .failure(.notFound) }
            try connection.execute("UPDATE users SET password_hash = \(passwordHash), updated_at = \(now) WHERE id = \(userID)")
            try connection.execute("UPDATE sessions SET revoked_at = \(now) WHERE user_id = \(userID) AND revoked_at IS NULL")
            try AccessRevocations.revoke(userID, before: now, on: connection)
            if Role(rawValue: user.role) != .admin {
                _ = try self.applyRoleChange(of: user, to: Role.admin.rawValue, by: userID, now: now, on: connection)
            }
            return .success(())
        }
        try result.get()
    }

    /// The admins, locked (in id order, so two transactions take them alike) while the caller
    /// decides whether one may stop being one.
    static func lockAdmins(on connection: PostgresConnection) throws -> [UUID] {
        try connection.query("SELECT id FROM users WHERE role = \(Role.admin.rawValue) ORDER BY id FOR UPDATE").map { try $0.decode("id", as: UUID.self) }
    }

    /// Sets the role of a locked user, refuses their older tokens, and audits and publishes the
    /// change.
    func applyRoleChange(of user: User, to role: String, by actor: UUID, now: Date, on connection: PostgresConnection) throws -> User {
        try connection.execute("UPDATE users SET role = \(role), version = version + 1, updated_at = \(now) WHERE id = \(user.id)")
        // Tokens carrying the old role stop counting here at once (other services learn it from the event).
        try AccessRevocations.revoke(user.id, before: now, on: connection)
        try audit(actor: actor, action: "role_changed", target: user.id, details: ["from": user.role, "to": role], now: now, on: connection)
        let updated = try self.user(user.id, on: connection)!
        try Outbox.enqueue(
            CloudEvent(
                IdentityUserRoleChangedV1(userId: user.id.lowercased, role: role, previousRole: user.role, changedBy: actor.lowercased, changedAt: now),
                sequence: updated.version, time: now),
            on: connection)
        return updated
    }

    /// Grants or removes free access (billing turns it into an entitlement).
    public func setAccessOverride(_ userID: UUID, to value: Bool, by actor: UUID, now: Date) async throws -> User {
        let result: Result<User, IdentityError> = try await database.transaction { connection in
            guard let user = try self.user(userID, on: connection, forUpdate: true) else { return .failure(.notFound) }
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
