import Contracts
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
    private let unsubscribe: UnsubscribeLinks
    private let batchSize: Int
    private let logger: Logger
    private let sent = Counter(label: "emails_sent_total")
    private let skipped = Counter(label: "emails_skipped_total")
    private let failed = Counter(label: "emails_failed_total")

    public init(
        database: DatabasePool, listenURL: String, transport: any MailTransport, renderer: MailRenderer, from: String,
        courseURL: String, unsubscribe: UnsubscribeLinks, batchSize: Int = 50, logger: Logger
    ) {
        self.unsubscribe = unsubscribe
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
        let batchSize = self.batchSize
        await QueueDrain.run(channel: EmailQueue.channel, listenURL: listenURL, name: "mail", logger: logger) {
            try await self.processDue(now: Date()) >= batchSize
        }
    }

    /// Processes one batch of due mail; returns how many entries it settled.
    @discardableResult
    public func processDue(now: Date) async throws -> Int {
        let transport = self.transport
        let renderer = self.renderer
        let from = self.from
        let courseURL = self.courseURL
        let unsubscribe = self.unsubscribe
        let limit = batchSize
        let results = try await database.transaction { connection -> [String] in
            let rows = try connection.query(
                """
                SELECT q.id, q.user_id, q.template, q.kind, q.scheduled_for, q.data::text AS data, q.attempts, q.outcomes,
                       r.user_id AS known, r.email, r.name, r.marketing_opt_out, r.deleted_at, r.free_lesson_started_at, r.last_activity_at,
                       r.subscription_status, r.subscription_interval, r.current_period_end, r.cancel_at_period_end, r.payment_failed_at,
                       coalesce(e.has_access, false) AS has_access
                FROM email_queue q
                LEFT JOIN recipients r ON r.user_id = q.user_id
                LEFT JOIN entitlements e ON e.user_id = q.user_id
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
                let attempts = try row.decode("attempts", as: Int.self) + 1
                let sequence = Int64(try row.decode("outcomes", as: Int.self) + 1)
                func log(_ status: String, _ detail: String?) throws {
                    try connection.execute(
                        """
                        INSERT INTO email_log (queue_id, user_id, template, status, detail, transport)
                        VALUES (\(id), \(userID), \(templateName), \(status), \(detail), \(transport.name))
                        """)
                }
                func settle(_ status: String, reason: String?) throws {
                    try connection.execute(
                        """
                        UPDATE email_queue SET status = \(status), processed_at = \(now), reason = \(reason), attempts = \(attempts),
                            outcomes = outcomes + \(status == "SKIPPED" ? 0 : 1),
                            -- a settled mail keeps no usable link
                            data = data - 'resetUrl' - 'verificationUrl'
                        WHERE id = \(id)
                        """)
                    try log(status, reason)
                    outcomes.append(status)
                }
                guard let template = EmailTemplate(rawValue: templateName) else {
                    try settle("FAILED", reason: "unknown template")
                    let event = NotificationsEmailFailedV1(
                        emailId: id.lowercased, userId: userID.lowercased, template: templateName, kind: try row.decode("kind"),
                        transport: transport.name, reason: "unknown template", attempts: attempts, failedAt: now)
                    try Outbox.enqueue(CloudEvent(event, sequence: sequence, time: now), on: connection)
                    continue
                }
                let data = (try? JSONB(try row.decode("data", as: String.self)).decode([String: String].self)) ?? [:]
                let facts = try Self.facts(row)
                if let reason = SendCheck.skipReason(template, facts: facts, data: data, scheduledFor: scheduledFor, now: now) {
                    try settle("SKIPPED", reason: reason)
                    continue
                }
                guard let facts else { continue }
                var values = data
                // Mail about an address (verification) goes to that address, which the event named.
                let to = data["to"] ?? facts.email
                values["name"] = facts.name
                values["email"] = to
                values["courseUrl"] = data["courseUrl"] ?? courseURL
                var headers: [(String, String)] = []
                if template.kind == .marketing {
                    let link = unsubscribe.url(for: userID)
                    values["unsubscribeUrl"] = link
                    headers = [("List-Unsubscribe", "<\(link)>"), ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")]
                }
                do {
                    let content = try renderer.render(template, data: values)
                    try transport.send(OutgoingMail(id: id, from: from, to: to, toName: facts.name, date: now, content: content, headers: headers))
                    try settle("SENT", reason: nil)
                    let event = NotificationsEmailSentV1(
                        emailId: id.lowercased, userId: userID.lowercased, template: template.rawValue, kind: template.kind.rawValue,
                        transport: transport.name, sentAt: now)
                    try Outbox.enqueue(CloudEvent(event, sequence: sequence, time: now), on: connection)
                } catch {
                    // One mail that cannot go now must not hold up the batch: back off, then FAILED.
                    let reason = String(describing: error).prefix(500).description
                    if attempts >= Self.maximumAttempts {
                        try settle("FAILED", reason: reason)
                        let event = NotificationsEmailFailedV1(
                            emailId: id.lowercased, userId: userID.lowercased, template: template.rawValue, kind: template.kind.rawValue,
                            transport: transport.name, reason: reason, attempts: attempts, failedAt: now)
                        try Outbox.enqueue(CloudEvent(event, sequence: sequence, time: now), on: connection)
                    } else {
                        let retryAt = now.addingTimeInterval(Self.backoff(afterAttempt: attempts))
                        try connection.execute(
                            "UPDATE email_queue SET attempts = \(attempts), scheduled_for = \(retryAt), reason = \(reason) WHERE id = \(id)")
                        try log("FAILED", reason)
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

    /// The recipient's state as the queue query read it; nil when notifications never heard of them.
    static func facts(_ row: Row) throws -> RecipientFacts? {
        guard try row.decode("known", as: UUID?.self) != nil else { return nil }
        return RecipientFacts(
            email: try row.decode("email"), name: try row.decode("name"), deleted: try row.decode("deleted_at", as: Date?.self) != nil,
            marketingOptOut: try row.decode("marketing_opt_out"), hasAccess: try row.decode("has_access"),
            freeLessonStartedAt: try row.decode("free_lesson_started_at", as: Date?.self), lastActivityAt: try row.decode("last_activity_at", as: Date?.self),
            subscriptionStatus: try row.decode("subscription_status", as: String?.self),
            subscriptionInterval: try row.decode("subscription_interval", as: String?.self),
            currentPeriodEnd: try row.decode("current_period_end", as: Date?.self), cancelAtPeriodEnd: try row.decode("cancel_at_period_end"),
            paymentFailedAt: try row.decode("payment_failed_at", as: Date?.self))
    }
}
