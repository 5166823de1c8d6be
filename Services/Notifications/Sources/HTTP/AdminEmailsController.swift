import Database
import Foundation
import Hummingbird
import ServiceKit

/// `/v1/notifications/admin/emails`: what is queued and what was sent, for admins.
struct AdminEmailsController: Sendable {
    let database: DatabasePool
    let verifier: TokenVerifier

    func add(to router: Router<BasicRequestContext>) {
        router.get("/v1/notifications/admin/emails", use: list)
        router.post("/v1/notifications/admin/emails/{id}/retry", use: retry)
    }

    struct Entry: Encodable, Sendable {
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

    struct Page: Encodable, Sendable {
        var items: [Entry]
    }

    static let statuses: Set<String> = ["PENDING", "SENT", "SKIPPED", "CANCELLED", "FAILED"]

    @Sendable func list(_ request: Request, context: BasicRequestContext) async throws -> JSONResponse<Page> {
        _ = try await verifier.authenticateAdmin(request)
        let parameters = request.uri.queryParameters
        var errors: [FieldError] = []
        let user = parameters.get("userId").map { UUID(uuidString: $0) }
        if case .some(nil) = user { errors.append(FieldError(field: "userId", code: "invalid_uuid", message: "A user id.")) }
        let status = parameters.get("status")
        if let status, !Self.statuses.contains(status) {
            errors.append(FieldError(field: "status", code: "invalid_choice", message: "One of: \(Self.statuses.sorted().joined(separator: ", "))."))
        }
        let template = parameters.get("template")
        if let template, EmailTemplate(rawValue: template) == nil {
            errors.append(FieldError(field: "template", code: "invalid_choice", message: "A template name such as WELCOME."))
        }
        let limit = Int(parameters.get("limit") ?? "50") ?? -1
        if !(1...200).contains(limit) { errors.append(FieldError(field: "limit", code: "out_of_range", message: "Between 1 and 200.")) }
        guard errors.isEmpty else { throw Problem.validation(errors) }
        let userID = user ?? nil
        let rows = try await database.query(
            """
            SELECT id, user_id, template, kind, status, scheduled_for, processed_at, reason, attempts FROM email_queue
            WHERE (\(userID)::uuid IS NULL OR user_id = \(userID))
              AND (\(status)::text IS NULL OR status = \(status))
              AND (\(template)::text IS NULL OR template = \(template))
            ORDER BY scheduled_for DESC LIMIT \(limit)
            """)
        let items = try rows.map(Self.entry)
        return JSONResponse(.ok, Page(items: items))
    }

    static func entry(_ row: Row) throws -> Entry {
        Entry(
            id: try row.decode("id", as: UUID.self).uuidString.lowercased(), userId: try row.decode("user_id", as: UUID.self).uuidString.lowercased(),
            template: try row.decode("template"), status: try row.decode("status"), scheduledFor: try row.decode("scheduled_for"),
            processedAt: try row.decode("processed_at", as: Date?.self), reason: try row.decode("reason", as: String?.self),
            attempts: try row.decode("attempts"), kind: try row.decode("kind"))
    }

    /// Sends a FAILED mail again, now (after the transport was mended): a fresh set of attempts.
    @Sendable func retry(_ request: Request, context: BasicRequestContext) async throws -> JSONResponse<Entry> {
        _ = try await verifier.authenticateAdmin(request)
        let id = try context.uuid(of: "email")
        let row = try await database.transaction { connection -> Row? in
            guard let current = try connection.query("SELECT status FROM email_queue WHERE id = \(id) FOR UPDATE").first else { return nil }
            guard try current.decode("status", as: String.self) == "FAILED" else {
                throw Problem(.conflict, code: "not_retryable", title: "Only a FAILED mail can be retried")
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
        guard let row else { throw Problem.notFound("email") }
        return JSONResponse(.ok, try Self.entry(row))
    }
}
