import Contracts
import Database
import Foundation
import Logging
import Metrics
import ServiceKit
import ServiceLifecycle
import Tracing

/// Sends due mail from the queue without ever holding a database transaction across the network.
/// Each pass goes through three steps:
///
/// 1. **claim**: one short statement marks a batch of due entries as this pass's (`claimed_by`),
///    taken with `FOR UPDATE SKIP LOCKED` so that replicas take different mail, for a lease
///    (`claimed_until`) after which another worker may take an abandoned claim over;
/// 2. per entry, a short transaction renews the lease, counts the attempt and checks the mail
///    again against the recipient as they are now (mail more than seven days late is skipped,
///    never sent late); a mail that must not go is settled there. Then the mail is **sent**, on a
///    thread of its own, with no transaction open;
/// 3. **record**: a short transaction writes the outcome, the log row and the event, as long as
///    the claim is still this pass's.
///
/// A crash between sending and recording leaves the entry claimed; once the lease has lapsed,
/// another pass (another replica, or this one restarted) sends it again with the same
/// Message-ID, which is derived from the entry's id, and records it once.
public final class MailDispatcher: Sendable {
    /// Transport attempts before an entry is FAILED (`DeliveryRules`).
    public static let maximumAttempts = DeliveryRules.maximumAttempts
    /// How long a claim keeps other workers off a mail: longer than one send may take (SMTP gives
    /// up after 60 s). It is renewed just before each send, so a long batch does not outlive it.
    public static let claimLease: TimeInterval = 120

    public static func backoff(afterAttempt attempt: Int) -> TimeInterval {
        DeliveryRules.backoff(afterAttempt: attempt)
    }

    private let database: DatabasePool
    private let listenURL: String
    private let transport: any MailTransport
    private let renderer: MailRenderer
    private let from: String
    private let courseURL: String
    private let unsubscribe: UnsubscribeLinks
    private let batchSize: Int
    private let claimLease: TimeInterval
    private let logger: Logger
    private let sent = Counter(label: "emails_sent_total")
    private let skipped = Counter(label: "emails_skipped_total")
    private let failed = Counter(label: "emails_failed_total")
    private let queueDepth = Gauge(label: "mail_queue_depth")
    private let oldestDue = Gauge(label: "mail_queue_oldest_age_seconds")

    public init(
        database: DatabasePool, listenURL: String, transport: any MailTransport, renderer: MailRenderer, from: String,
        courseURL: String, unsubscribe: UnsubscribeLinks, batchSize: Int = 50, claimLease: TimeInterval = MailDispatcher.claimLease,
        logger: Logger
    ) {
        self.unsubscribe = unsubscribe
        self.database = database
        self.listenURL = listenURL
        self.transport = transport
        self.renderer = renderer
        self.from = from
        self.courseURL = courseURL
        self.batchSize = batchSize
        self.claimLease = claimLease
        self.logger = logger
    }

    /// The sending worker: woken by the queue's channel, a batch at a time while batches come
    /// back full.
    public var worker: DrainingWorker {
        let batchSize = self.batchSize
        return DrainingWorker("mail", channel: EmailQueue.channel, listenURL: listenURL, logger: logger) {
            try await self.processDue(now: Date()) >= batchSize
        }
    }

    /// Every 15 s, how much mail is due and unsent, and how long the oldest has been due
    /// (`mail_queue_depth`, `mail_queue_oldest_age_seconds`).
    public var monitor: some ServiceLifecycle.Service {
        PeriodicTask("mail-queue-gauges", every: .seconds(15)) { [database, queueDepth, oldestDue] in
            guard let row = try await database.query(
                """
                SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(scheduled_for)), 0)::float8 AS age
                FROM email_queue WHERE status = 'PENDING' AND scheduled_for <= now()
                """
            ).first else { return }
            queueDepth.record(try row.decode("n", as: Int.self))
            oldestDue.record(try row.decode("age", as: Double.self))
        }
    }

    /// What became of one claimed entry.
    enum Outcome: Sendable {
        case sent, skipped, failed
        /// A transport error; due again after the backoff.
        case retry
        /// No longer this pass's: cancelled meanwhile, or taken over by another worker.
        case lost
    }

    /// A mail that passed the check, with what it is rendered from.
    struct Delivery: Sendable {
        var id: UUID
        var userID: UUID
        var template: EmailTemplate
        var attempts: Int
        var to: String
        var toName: String
        var values: [String: String]
        var headers: [(String, String)]
        /// The trace the mail was queued in, when it was traced.
        var traceparent: String?
    }

    enum Prepared: Sendable {
        case settled(Outcome)
        case send(Delivery)
    }

    /// Processes one batch of due mail: `now` is the clock of the rules (what is due, how late it
    /// is); the lease runs on the database's clock. Returns how many entries it claimed.
    @discardableResult
    public func processDue(now: Date) async throws -> Int {
        let claim = UUIDv7.make()
        let claimed = try await self.claim(claim, now: now)
        var waiting = claimed[...]
        var outcomes: [Outcome] = []
        defer { count(outcomes) }
        do {
            while let id = waiting.popFirst() {
                outcomes.append(try await dispatch(id, claim: claim, now: now))
            }
        } catch {
            // Entries this pass has not started go back at once; the one it was on keeps its claim
            // until the lease lapses, since it may have been sent.
            if !waiting.isEmpty {
                _ = try? await database.execute(
                    "UPDATE email_queue SET claimed_by = NULL, claimed_until = NULL WHERE id = ANY(\(array: Array(waiting))) AND claimed_by = \(claim)")
            }
            throw error
        }
        if !outcomes.isEmpty { logger.info("mail dispatched", metadata: ["count": "\(outcomes.count)"]) }
        return claimed.count
    }

    private func count(_ outcomes: [Outcome]) {
        for outcome in outcomes {
            switch outcome {
            case .sent: sent.increment()
            case .skipped: skipped.increment()
            case .failed: failed.increment()
            case .retry, .lost: break
            }
        }
    }

    /// Step 1: marks up to a batch of due entries as this pass's, oldest first, in one statement
    /// (a transaction of its own). An entry claimed by another pass is left alone until that
    /// claim's lease has lapsed.
    func claim(_ claim: UUID, now: Date) async throws -> [UUID] {
        let limit = batchSize
        let lease = claimLease
        let rows = try await database.query(
            """
            WITH due AS (
                SELECT id FROM email_queue
                WHERE status = 'PENDING' AND scheduled_for <= \(now) AND (claimed_until IS NULL OR claimed_until < clock_timestamp())
                ORDER BY scheduled_for
                LIMIT \(limit)
                FOR UPDATE SKIP LOCKED
            )
            UPDATE email_queue q SET claimed_by = \(claim), claimed_until = clock_timestamp() + \(lease) * interval '1 second'
            FROM due WHERE q.id = due.id
            RETURNING q.id, q.scheduled_for
            """)
        return try rows.map { (try $0.decode("id", as: UUID.self), try $0.decode("scheduled_for", as: Date.self)) }
            .sorted { $0.1 < $1.1 }.map(\.0)
    }

    /// Steps 2 and 3 for one claimed entry.
    func dispatch(_ id: UUID, claim: UUID, now: Date) async throws -> Outcome {
        let delivery: Delivery
        switch try await prepare(id, claim: claim, now: now) {
        case .settled(let outcome): return outcome
        case .send(let due): delivery = due
        }
        guard TraceContext.isRecording, let traceparent = delivery.traceparent else {
            return try await send(delivery, claim: claim, now: now)
        }
        // The send and what is recorded after it, as a span of the trace the mail was queued in.
        return try await withSpan(
            "send mail \(delivery.template.rawValue.lowercased())", context: TraceContext.context(traceparent: traceparent), ofKind: .client
        ) { span in
            span.attributes["syllabus.mail.template"] = delivery.template.rawValue
            span.attributes["syllabus.mail.transport"] = transport.name
            span.attributes["syllabus.mail.attempt"] = delivery.attempts
            let outcome = try await send(delivery, claim: claim, now: now)
            span.attributes["syllabus.mail.outcome"] = "\(outcome)"
            if case .retry = outcome { span.setStatus(SpanStatus(code: .error)) }
            return outcome
        }
    }

    private func send(_ delivery: Delivery, claim: UUID, now: Date) async throws -> Outcome {
        var error: String?
        do {
            let content = try renderer.render(delivery.template, data: delivery.values)
            let mail = OutgoingMail(
                id: delivery.id, from: from, to: delivery.to, toName: delivery.toName, date: now, content: content, headers: delivery.headers)
            let transport = self.transport
            try await Self.onThreadOfItsOwn { try transport.send(mail) }
        } catch let failure {
            // One mail that cannot go now must not hold up the batch: back off, then FAILED.
            error = String(describing: failure).prefix(500).description
        }
        return try await record(delivery, claim: claim, error: error, now: now)
    }

    /// Step 2, before the send: a short transaction that renews the claim's lease and counts the
    /// attempt, then checks the mail against the recipient as they are now. A mail that must not
    /// go is settled in this transaction; one that must is handed back to be sent.
    func prepare(_ id: UUID, claim: UUID, now: Date) async throws -> Prepared {
        let lease = claimLease
        let transportName = transport.name
        let courseURL = self.courseURL
        let unsubscribe = self.unsubscribe
        return try await database.transaction { connection -> Prepared in
            guard let row = try connection.query(
                """
                WITH q AS (
                    UPDATE email_queue SET attempts = attempts + 1, claimed_until = clock_timestamp() + \(lease) * interval '1 second'
                    WHERE id = \(id) AND claimed_by = \(claim) AND status = 'PENDING'
                    RETURNING id, user_id, template, kind, scheduled_for, data, attempts, traceparent
                )
                SELECT q.id, q.user_id, q.template, q.kind, q.scheduled_for, q.data::text AS data, q.attempts, q.traceparent,
                       r.user_id AS known, r.email, r.name, r.marketing_opt_out, r.deleted_at, r.free_lesson_started_at, r.last_activity_at,
                       r.subscription_status, r.subscription_interval, r.current_period_end, r.cancel_at_period_end, r.payment_failed_at,
                       r.converted_at, coalesce(e.has_access, false) AS has_access
                FROM q
                LEFT JOIN recipients r ON r.user_id = q.user_id
                LEFT JOIN entitlements e ON e.user_id = q.user_id
                """
            ).first else {
                // Cancelled since it was claimed, or taken over by another worker: not ours to send.
                try Self.release(id, claim: claim, on: connection)
                return .settled(.lost)
            }
            let userID = try row.decode("user_id", as: UUID.self)
            let templateName = try row.decode("template", as: String.self)
            let scheduledFor = try row.decode("scheduled_for", as: Date.self)
            let attempts = try row.decode("attempts", as: Int.self)
            guard let template = EmailTemplate(rawValue: templateName) else {
                let reason = "unknown template"
                guard let sequence = try Self.settle(id, claim: claim, status: "FAILED", reason: reason, now: now, on: connection) else {
                    return .settled(.lost)
                }
                try Self.log(id, userID: userID, template: templateName, status: "FAILED", detail: reason, transport: transportName, on: connection)
                let event = NotificationsEmailFailedV1(
                    emailId: id.lowercased, userId: userID.lowercased, template: templateName, kind: try row.decode("kind"),
                    transport: transportName, reason: reason, attempts: attempts, failedAt: now)
                try Outbox.enqueue(CloudEvent(event, sequence: sequence, time: now), on: connection)
                return .settled(.failed)
            }
            let data = (try? JSONB(try row.decode("data", as: String.self)).decode([String: String].self)) ?? [:]
            let facts = try Self.facts(row)
            let skip = SendCheck.skipReason(template, facts: facts, data: data, scheduledFor: scheduledFor, now: now)
            guard skip == nil, let facts else {
                let reason = skip ?? "unknown recipient"
                guard try Self.settle(id, claim: claim, status: "SKIPPED", reason: reason, now: now, on: connection) != nil else {
                    return .settled(.lost)
                }
                try Self.log(id, userID: userID, template: templateName, status: "SKIPPED", detail: reason, transport: transportName, on: connection)
                return .settled(.skipped)
            }
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
            return .send(
                Delivery(
                    id: id, userID: userID, template: template, attempts: attempts, to: to, toName: facts.name, values: values, headers: headers,
                    traceparent: try row.decode("traceparent", as: String?.self)))
        }
    }

    /// Step 3, after the send: a short transaction that writes what happened. A sent mail is
    /// recorded `SENT` with its event even if it was cancelled while it was on the wire (it went);
    /// a failed one backs off, or is `FAILED` after the last attempt. Nothing is recorded on an
    /// entry another worker has taken over: that worker records it.
    func record(_ mail: Delivery, claim: UUID, error: String?, now: Date) async throws -> Outcome {
        let transportName = transport.name
        return try await database.transaction { connection -> Outcome in
            let template = mail.template
            func log(_ status: String, _ detail: String?) throws {
                try Self.log(mail.id, userID: mail.userID, template: template.rawValue, status: status, detail: detail, transport: transportName, on: connection)
            }
            guard let error else {
                guard let sequence = try Self.settle(mail.id, claim: claim, status: "SENT", reason: nil, now: now, onlyPending: false, on: connection)
                else {
                    try log("SENT", "sent after the claim lapsed; the worker that took it over records it")
                    return .lost
                }
                try log("SENT", nil)
                let event = NotificationsEmailSentV1(
                    emailId: mail.id.lowercased, userId: mail.userID.lowercased, template: template.rawValue, kind: template.kind.rawValue,
                    transport: transportName, sentAt: now)
                try Outbox.enqueue(CloudEvent(event, sequence: sequence, time: now), on: connection)
                return .sent
            }
            try log("FAILED", error)
            let retryAt: Date
            switch DeliveryRules.afterFailure(attempts: mail.attempts, now: now) {
            case .retry(let at):
                retryAt = at
            case .fail:
                guard let sequence = try Self.settle(mail.id, claim: claim, status: "FAILED", reason: error, now: now, on: connection) else {
                    try Self.release(mail.id, claim: claim, on: connection)
                    return .lost
                }
                let event = NotificationsEmailFailedV1(
                    emailId: mail.id.lowercased, userId: mail.userID.lowercased, template: template.rawValue, kind: template.kind.rawValue,
                    transport: transportName, reason: error, attempts: mail.attempts, failedAt: now)
                try Outbox.enqueue(CloudEvent(event, sequence: sequence, time: now), on: connection)
                return .failed
            }
            let retried = try connection.execute(
                """
                UPDATE email_queue SET scheduled_for = \(retryAt), reason = \(error), claimed_by = NULL, claimed_until = NULL
                WHERE id = \(mail.id) AND claimed_by = \(claim) AND status = 'PENDING'
                """
            ).affectedRows == 1
            if !retried { try Self.release(mail.id, claim: claim, on: connection) }
            return retried ? .retry : .lost
        }
    }

    /// Settles an entry this claim still holds and releases it; returns the entry's new outcome
    /// number (the `sequence` of its event), or nil when the claim is no longer this pass's or,
    /// with `onlyPending`, the entry was cancelled meanwhile.
    static func settle(
        _ id: UUID, claim: UUID, status: String, reason: String?, now: Date, onlyPending: Bool = true, on connection: PostgresConnection
    ) throws -> Int64? {
        try connection.query(
            """
            UPDATE email_queue SET status = \(status), processed_at = \(now), reason = \(reason),
                outcomes = outcomes + \(status == "SKIPPED" ? 0 : 1),
                -- a settled mail keeps no usable link
                data = data - 'resetUrl' - 'verificationUrl' - 'revertUrl',
                claimed_by = NULL, claimed_until = NULL
            WHERE id = \(id) AND claimed_by = \(claim) AND (status = 'PENDING' OR NOT \(onlyPending))
            RETURNING outcomes
            """
        ).first.map { Int64(try $0.decode("outcomes", as: Int.self)) }
    }

    /// Lets go of an entry this claim still holds, whatever became of it.
    static func release(_ id: UUID, claim: UUID, on connection: PostgresConnection) throws {
        try connection.execute("UPDATE email_queue SET claimed_by = NULL, claimed_until = NULL WHERE id = \(id) AND claimed_by = \(claim)")
    }

    /// One attempt in `email_log`.
    static func log(
        _ id: UUID, userID: UUID, template: String, status: String, detail: String?, transport: String, on connection: PostgresConnection
    ) throws {
        try connection.execute(
            """
            INSERT INTO email_log (queue_id, user_id, template, status, detail, transport)
            VALUES (\(id), \(userID), \(template), \(status), \(detail), \(transport))
            """)
    }

    /// Runs blocking work (the network, the disk) on a thread of its own: never on a database
    /// connection's thread, nor on the few threads Swift concurrency shares.
    static func onThreadOfItsOwn(_ body: @escaping @Sendable () throws -> Void) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let thread = Thread { continuation.resume(with: Result { try body() }) }
            thread.name = "mail-send"
            thread.start()
        }
    }

    /// The recipient's state as the queue query read it; nil when notifications never heard of them.
    static func facts(_ row: Row) throws -> RecipientFacts? {
        guard try row.decode("known", as: UUID?.self) != nil else { return nil }
        return RecipientFacts(
            email: try row.decode("email"), name: try row.decode("name"), deleted: try row.decode("deleted_at", as: Date?.self) != nil,
            marketingOptOut: try row.decode("marketing_opt_out"), hasAccess: try row.decode("has_access"),
            converted: try row.decode("converted_at", as: Date?.self) != nil,
            freeLessonStartedAt: try row.decode("free_lesson_started_at", as: Date?.self), lastActivityAt: try row.decode("last_activity_at", as: Date?.self),
            subscriptionStatus: try row.decode("subscription_status", as: String?.self).map(SubscriptionStatus.init(rawValue:)),
            subscriptionInterval: try row.decode("subscription_interval", as: String?.self).map(BillingInterval.init(rawValue:)),
            currentPeriodEnd: try row.decode("current_period_end", as: Date?.self), cancelAtPeriodEnd: try row.decode("cancel_at_period_end"),
            paymentFailedAt: try row.decode("payment_failed_at", as: Date?.self))
    }
}
