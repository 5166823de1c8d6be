import Database
import Foundation
import Logging
import Metrics
import ServiceKit
import ServiceLifecycle

/// Sends due mail from the queue in batches. Rows are claimed with `FOR UPDATE SKIP LOCKED`, so
/// several replicas share the work without sending anything twice. At send time the recipient is
/// checked again; mail more than seven days late is skipped, never sent late.
public final class MailDispatcher: Service, Sendable {
    public static let maximumLateness: TimeInterval = 7 * 24 * 3600
    /// Transport attempts before an entry is FAILED; retries back off 30 s, 1 min, 2 min …
    public static let maximumAttempts = 5

    public static func backoff(afterAttempt attempt: Int) -> TimeInterval {
        min(3600, 30 * pow(2, Double(max(0, attempt - 1))))
    }

    private let database: DatabasePool
    private let listenURL: String
    private let transport: any MailTransport
    private let renderer: MailRenderer
    private let from: String
    private let courseURL: String
    private let batchSize: Int
    private let logger: Logger
    private let wake = WakeSignal()
    private let sent = Counter(label: "emails_sent_total")
    private let skipped = Counter(label: "emails_skipped_total")
    private let failed = Counter(label: "emails_failed_total")

    public init(
        database: DatabasePool, listenURL: String, transport: any MailTransport, renderer: MailRenderer, from: String,
        courseURL: String, batchSize: Int = 50, logger: Logger
    ) {
        self.database = database
        self.listenURL = listenURL
        self.transport = transport
        self.renderer = renderer
        self.from = from
        self.courseURL = courseURL
        self.batchSize = batchSize
        self.logger = logger
    }

    public func run() async throws {
        let listener = PostgresListener(url: listenURL, channels: [EmailQueue.channel], name: "mail", logger: logger)
        let wake = self.wake
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await _ in listener.events { wake.signal() }
            }
            await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    do {
                        let processed = try await self.processDue(now: Date())
                        if processed < self.batchSize { await wake.wait(timeout: .seconds(1)) }
                    } catch {
                        self.logger.warning("mail dispatch failed, retrying", metadata: ["error": "\(error)"])
                        await wake.wait(timeout: .seconds(2))
                    }
                }
            }
            listener.stop()
            group.cancelAll()
        }
    }

    /// Processes one batch of due mail; returns how many entries it settled.
    @discardableResult
    public func processDue(now: Date) async throws -> Int {
        let transport = self.transport
        let renderer = self.renderer
        let from = self.from
        let courseURL = self.courseURL
        let limit = batchSize
        let results = try await database.transaction { connection -> [String] in
            let rows = try connection.query(
                """
                SELECT q.id, q.user_id, q.template, q.scheduled_for, q.data::text AS data, q.attempts,
                       r.email, r.name, r.marketing_opt_out, r.deleted_at
                FROM email_queue q LEFT JOIN recipients r ON r.user_id = q.user_id
                WHERE q.status = 'PENDING' AND q.scheduled_for <= \(now)
                ORDER BY q.scheduled_for
                LIMIT \(limit)
                FOR UPDATE OF q SKIP LOCKED
                """)
            var outcomes: [String] = []
            for row in rows {
                let id = try row.decode("id", as: UUID.self)
                let userID = try row.decode("user_id", as: UUID.self)
                let templateName = try row.decode("template", as: String.self)
                let scheduledFor = try row.decode("scheduled_for", as: Date.self)
                func settle(_ status: String, reason: String?) throws {
                    try connection.execute(
                        "UPDATE email_queue SET status = \(status), processed_at = \(now), reason = \(reason), attempts = attempts + 1 WHERE id = \(id)")
                    try connection.execute(
                        """
                        INSERT INTO email_log (queue_id, user_id, template, status, detail, transport)
                        VALUES (\(id), \(userID), \(templateName), \(status), \(reason), \(transport.name))
                        """)
                    outcomes.append(status)
                }
                guard let template = EmailTemplate(rawValue: templateName) else {
                    try settle("FAILED", reason: "unknown template")
                    continue
                }
                if now.timeIntervalSince(scheduledFor) > Self.maximumLateness {
                    try settle("SKIPPED", reason: "expired")
                    continue
                }
                guard let email = try row.decode("email", as: String?.self), let name = try row.decode("name", as: String?.self) else {
                    try settle("SKIPPED", reason: "unknown recipient")
                    continue
                }
                if try row.decode("deleted_at", as: Date?.self) != nil {
                    try settle("SKIPPED", reason: "deleted")
                    continue
                }
                if template.kind == .marketing, try row.decode("marketing_opt_out", as: Bool.self) {
                    try settle("SKIPPED", reason: "opted out")
                    continue
                }
                var data = (try? JSONB(try row.decode("data", as: String.self)).decode([String: String].self)) ?? [:]
                // Mail about an address (verification) goes to that address, which the event named.
                let to = data["to"] ?? email
                data["name"] = name
                data["email"] = to
                data["courseUrl"] = data["courseUrl"] ?? courseURL
                do {
                    let content = try renderer.render(template, data: data)
                    try transport.send(OutgoingMail(id: id, from: from, to: to, toName: name, date: now, content: content))
                    try settle("SENT", reason: nil)
                } catch {
                    // One mail that cannot go now must not hold up the batch: back off, then FAILED.
                    let attempts = try row.decode("attempts", as: Int.self) + 1
                    let reason = String(describing: error).prefix(500).description
                    if attempts >= Self.maximumAttempts {
                        try settle("FAILED", reason: reason)
                    } else {
                        let retryAt = now.addingTimeInterval(Self.backoff(afterAttempt: attempts))
                        try connection.execute(
                            "UPDATE email_queue SET attempts = \(attempts), scheduled_for = \(retryAt), reason = \(reason) WHERE id = \(id)")
                        try connection.execute(
                            """
                            INSERT INTO email_log (queue_id, user_id, template, status, detail, transport)
                            VALUES (\(id), \(userID), \(templateName), 'FAILED', \(reason), \(transport.name))
                            """)
                        outcomes.append("RETRY")
                    }
                }
            }
            return outcomes
        }
        for status in results {
            switch status {
            case "SENT": sent.increment()
            case "SKIPPED": skipped.increment()
            case "RETRY": break
            default: failed.increment()
            }
        }
        if !results.isEmpty { logger.info("mail dispatched", metadata: ["count": "\(results.count)"]) }
        return results.count
    }
}
