import Database
import Foundation
import ServiceKit

/// What admins do to users. Every change is audited and published (see `UserRepository+Admin`).
struct UserAdministration: Sendable {
    let users: UserRepository

    struct Page: Sendable {
        var items: [User]
        var nextCursor: String?
    }

    /// Users whose email or name contains `query`, newest first, a page at a time.
    func list(query: String?, limit limitText: String?, cursor cursorText: String?) async throws -> Page {
        guard let limit = Int(limitText ?? "50"), (1...200).contains(limit) else {
            throw DomainError.validation([FieldError(field: "limit", code: "out_of_range", message: "Between 1 and 200.")])
        }
        var cursor: UUID?
        if let cursorText {
            guard let id = UUID(uuidString: cursorText) else {
                throw DomainError.validation([FieldError(field: "cursor", code: "invalid_cursor", message: "Use the nextCursor of the previous page.")])
            }
            cursor = id
        }
        let query = query.map { String($0.prefix(200)) }.flatMap { $0.isEmpty ? nil : $0 }
        let found = try await users.list(query: query, limit: limit + 1, after: cursor)
        let items = Array(found.prefix(limit))
        return Page(items: items, nextCursor: found.count > limit ? items.last?.id.lowercased : nil)
    }

    func user(_ id: UUID) async throws -> User {
        guard let user = try await users.user(id) else { throw DomainError.userNotFound }
        return user
    }

    func changeRole(of id: UUID, to role: String?, by admin: UUID) async throws -> User {
        guard let role, AdminRoster.roles.contains(role) else {
            throw DomainError.validation([FieldError(field: "role", code: "invalid_choice", message: "One of: ADMIN, USER.")])
        }
        return try await users.changeRole(id, to: role, by: admin, now: Date())
    }

    func setAccessOverride(of id: UUID, to value: Bool?, by admin: UUID) async throws -> User {
        guard let value else {
            throw DomainError.validation([FieldError(field: "accessOverride", code: "required", message: "true or false.")])
        }
        return try await users.setAccessOverride(id, to: value, by: admin, now: Date())
    }

    func delete(_ id: UUID, by admin: UUID) async throws {
        try await users.delete(id, by: admin.lowercased, auditedBy: admin, now: Date())
    }

    struct AuditEntry: Sendable {
        var actor: UUID
        var action: String
        var details: [String: String]
        var at: Date
    }

    /// Who did what to a user, newest first.
    func audit(of id: UUID) async throws -> [AuditEntry] {
        try await users.auditTrail(of: id).map { entry in
            AuditEntry(
                actor: entry.actor, action: entry.action, details: (try? JSONB(entry.details).decode([String: String].self)) ?? [:],
                at: entry.at)
        }
    }
}
