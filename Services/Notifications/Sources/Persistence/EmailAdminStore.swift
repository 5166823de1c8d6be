import Contracts
import Database
import Foundation
import ServiceKit

/// The queue as admins see it: what is queued and what became of it, and a FAILED mail sent
/// again.
struct EmailAdminStore: Sendable {
    let database: DatabasePool

    struct Entry: Encodable, Sendable, Equatable {
        var id: String
        var userId: String
        var template: String
        var status: String
        var scheduledFor: Date
        var processedAt: Date?
        var reason: String?
        var attempts: Int
        var kind: String
    }

    struct Filter: Sendable {
        var user: UUID?
        var status: String?
        var template: String?
        var limit: Int
    }

    static let statuses: Set<String> = ["PENDING", "SENT", "SKIPPED", "CANCELLED", "FAILED"]

    /// Newest due first.
    func list(_ filter: Filter) async throws -> [Entry] {
        try await database.query(
            """
            SELECT id, user_id, template, kind, status, scheduled_for, processed_at, reason, attempts FROM email_queue
            WHERE (\(filter.user)::uuid IS NULL OR user_id = \(filter.user))
              AND (\(filter.status)::text IS NULL OR status = \(filter.status))
              AND (\(filter.template)::text IS NULL OR template = \(filter.template))
            ORDER BY scheduled_for DESC LIMIT \(filter.limit)
            """
        ).map(Self.entry)
    }

    static func entry(_ row: Row) throws -> Entry {
        Entry(
            id: try row.decode("id", as: UUID.self).uuidString.lowercased(), userId: try row.decode("user_id", as: UUID.self).uuidString.lowercased(),
            template: try row.decode("template"), status: try row.decode("status"), scheduledFor: try row.decode("scheduled_for"),
            processedAt: try row.decode("processed_at", as: Date?.self), reason: try row.decode("reason", as: String?.self),
            attempts: try row.decode("attempts"), kind: try row.decode("kind"))
    }

    /// Sends a FAILED mail again, now (after the transport was mended): a fresh set of attempts,
    /// and the dispatcher woken on commit.
    func retry(_ id: UUID) async throws -> Entry {
        let row = try await database.transaction { connection -> Row? in
            guard let current = try connection.query("SELECT status FROM email_queue WHERE id = \(id) FOR UPDATE").first else { return nil }
            guard try current.decode("status", as: String.self) == "FAILED" else {
                throw DomainError(.conflict, code: "not_retryable", title: "Only a FAILED mail can be retried")
            }
            let updated = try connection.query(
                """
                UPDATE email_queue SET status = 'PENDING', attempts = 0, scheduled_for = now(), processed_at = NULL, reason = NULL,
                    claimed_by = NULL, claimed_until = NULL
                WHERE id = \(id)
                RETURNING id, user_id, template, kind, status, scheduled_for, processed_at, reason, attempts
                """).first
            try connection.execute("SELECT pg_notify(\(EmailQueue.channel), '')")
            return updated
        }
        guard let row else { throw DomainError.notFound("email") }
        return try Self.entry(row)
    }
}

/// A recipient's consent to marketing mail.
enum Consent {
    /// Applies the opt-out at once (pending marketing mail is skipped at send time) and tells
    /// identity, which shows it in the profile. Repeating it changes nothing.
    static func optOut(_ user: UUID, now: Date, on connection: PostgresConnection) throws {
        guard let row = try connection.query(
            """
            UPDATE recipients SET marketing_opt_out = true, consent_version = consent_version + 1, updated_at = now()
            WHERE user_id = \(user) AND NOT marketing_opt_out AND deleted_at IS NULL
            RETURNING consent_version
            """
        ).first else { return }
        let event = NotificationsConsentChangedV1(userId: user.lowercased, marketingOptOut: true, source: "unsubscribe_link", changedAt: now)
        try Outbox.enqueue(CloudEvent(event, sequence: try row.decode("consent_version", as: Int64.self), time: now), on: connection)
    }

    static func optOut(_ user: UUID, now: Date, in database: DatabasePool) async throws {
        try await database.transaction { try optOut(user, now: now, on: $0) }
    }
}
