import Contracts
import Database
import Foundation
import ServiceKit

/// The email queue: what to send, to whom, when. A dedupe key per (user, template, occasion)
/// makes repeated events harmless: the second insert does nothing.
public enum EmailQueue {
    public static let channel = "email_queue"

    /// Queues a mail unless one with the same dedupe key exists; wakes the dispatcher on commit.
    @discardableResult
    public static func enqueue(
        userID: UUID, template: EmailTemplate, dedupeKey: String, scheduledFor: Date, data: [String: String],
        on connection: PostgresConnection
    ) throws -> Bool {
        let json = try JSONB(encoding: data)
        let inserted = try connection.execute(
            """
            INSERT INTO email_queue (id, user_id, template, kind, dedupe_key, scheduled_for, data, traceparent)
            VALUES (\(UUIDv7.make()), \(userID), \(template.rawValue), \(template.kind.rawValue), \(dedupeKey), \(scheduledFor), \(json),
                    \(connection.traceparent))
            ON CONFLICT (dedupe_key) DO NOTHING
            """
        ).affectedRows == 1
        if inserted { try connection.execute("SELECT pg_notify(\(channel), '')") }
        return inserted
    }

    /// Cancels the user's pending mail of these templates (what made them worth sending is gone).
    @discardableResult
    public static func cancelPending(
        userID: UUID, templates: [EmailTemplate], reason: String, now: Date, except dedupeKey: String? = nil, on connection: PostgresConnection
    ) throws -> Int {
        try connection.execute(
            """
            UPDATE email_queue SET status = 'CANCELLED', reason = \(reason), processed_at = \(now)
            WHERE user_id = \(userID) AND status = 'PENDING' AND template = ANY(\(array: templates.map(\.rawValue)))
              AND (\(dedupeKey)::text IS NULL OR dedupe_key <> \(dedupeKey))
            """
        ).affectedRows
    }
}
