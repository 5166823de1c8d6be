import Contracts
import Database
import Foundation
import ServiceKit

/// The lifecycle rules: what each event teaches notifications about a user, and which mail it
/// queues or cancels. Times come from the events (when things happened), never from the clock, so
/// a late or replayed event schedules the same mail; the dispatcher, which takes the clock,
/// re-checks every mail against the user's state when it is due.
public enum Lifecycle {
    public static let startJourneyDelay: TimeInterval = 24 * 3600
    public static let abandonmentDelays: [(EmailTemplate, TimeInterval)] = [
        (.abandonment1, 3600), (.abandonment2, 24 * 3600), (.abandonment3, 3 * 24 * 3600),
    ]
    public static let inactivityDelay: TimeInterval = 7 * 24 * 3600
    public static let renewalLead: TimeInterval = 3 * 24 * 3600
    public static let finalPaymentDelay: TimeInterval = 3 * 24 * 3600

    static func userID(_ text: String) throws -> UUID {
        guard let id = UUID(uuidString: text) else { throw ConsumeFailure.undecodable("userId is not a UUID") }
        return id
    }

    /// A stable text for an instant, for dedupe keys (millisecond precision, as events carry).
    static func stamp(_ date: Date) -> String { String(Int64((date.timeIntervalSince1970 * 1000).rounded())) }

    /// Makes sure the user has a row: billing or progress may speak of a user before identity's
    /// registration arrives.
    static func ensureRecipient(_ user: UUID, on connection: PostgresConnection) throws {
        try connection.execute(
            "INSERT INTO recipients (user_id, email, name, registered_at) VALUES (\(user), '', '', to_timestamp(0)) ON CONFLICT DO NOTHING")
    }

    // MARK: Identity

    public static func registered(_ event: CloudEvent<IdentityUserRegisteredV1>, on connection: PostgresConnection) throws {
        let data = event.data
        let user = try userID(data.userId)
        if try Tombstones.isDeleted(user, on: connection) { return }
        // Whole-state upsert that never lets an older event overwrite a newer one.
        try connection.execute(
            """
            INSERT INTO recipients (user_id, email, name, role, marketing_opt_out, registered_at, sequence)
            VALUES (\(user), \(data.email), \(data.name), \(data.role), \(data.marketingOptOut), \(data.registeredAt), \(event.sequenceNumber))
            ON CONFLICT (user_id) DO UPDATE SET
                email = excluded.email, name = excluded.name, role = excluded.role, registered_at = excluded.registered_at,
                marketing_opt_out = excluded.marketing_opt_out, sequence = excluded.sequence, updated_at = now()
            WHERE recipients.sequence < excluded.sequence
            """)
        // WELCOME goes once per user, however often the event arrives.
        try EmailQueue.enqueue(userID: user, template: .welcome, dedupeKey: "WELCOME:\(user.lowercased)", scheduledFor: data.registeredAt, data: [:], on: connection)
        try EmailQueue.enqueue(
            userID: user, template: .startJourney, dedupeKey: "START_JOURNEY:\(user.lowercased)",
            scheduledFor: data.registeredAt.addingTimeInterval(startJourneyDelay), data: [:], on: connection)
        try activity(user, at: data.registeredAt, on: connection)
    }

    /// Any activity restarts the inactivity timer: the pending nudge is cancelled and a new one
    /// queued for this spell (one nudge per spell of inactivity).
    public static func activity(_ user: UUID, at time: Date, on connection: PostgresConnection) throws {
        if try Tombstones.isDeleted(user, on: connection) { return }
        try ensureRecipient(user, on: connection)
        let newer = try connection.execute(
            "UPDATE recipients SET last_activity_at = \(time) WHERE user_id = \(user) AND (last_activity_at IS NULL OR last_activity_at < \(time))"
        ).affectedRows == 1
        guard newer else { return }
        let key = "INACTIVE_NUDGE:\(user.lowercased):\(stamp(time))"
        try EmailQueue.cancelPending(userID: user, templates: [.inactiveNudge], reason: "active", now: time, except: key, on: connection)
        try EmailQueue.enqueue(
            userID: user, template: .inactiveNudge, dedupeKey: key, scheduledFor: time.addingTimeInterval(inactivityDelay),
            data: ["activityAt": RFC3339.format(time)], on: connection)
    }

    // MARK: Progress

    public static func lessonStarted(_ event: CloudEvent<ProgressLessonStartedV1>, on connection: PostgresConnection) throws {
        let user = try userID(event.data.userId)
        try activity(user, at: event.data.startedAt, on: connection)
        guard event.data.isFree, try !Tombstones.isDeleted(user, on: connection) else { return }
        try connection.execute(
            "UPDATE recipients SET free_lesson_started_at = least(coalesce(free_lesson_started_at, \(event.data.startedAt)), \(event.data.startedAt)) WHERE user_id = \(user)")
        try EmailQueue.cancelPending(userID: user, templates: [.startJourney], reason: "started", now: event.data.startedAt, on: connection)
    }

    public static func lessonCompleted(_ event: CloudEvent<ProgressLessonCompletedV1>, on connection: PostgresConnection) throws {
        let user = try userID(event.data.userId)
        try activity(user, at: event.data.completedAt, on: connection)
        guard event.data.isFree, try !Tombstones.isDeleted(user, on: connection) else { return }
        let first = try connection.execute(
            "UPDATE recipients SET free_lesson_completed_at = \(event.data.completedAt), free_lesson_started_at = coalesce(free_lesson_started_at, \(event.data.completedAt)) WHERE user_id = \(user) AND free_lesson_completed_at IS NULL"
        ).affectedRows == 1
        try EmailQueue.cancelPending(userID: user, templates: [.startJourney], reason: "started", now: event.data.completedAt, on: connection)
        // The abandonment series is timed from the free lesson's first completion, and only for
        // someone who has not subscribed.
        guard first, !(try Entitlements.of(user, on: connection).hasAccess) else { return }
        for (template, delay) in abandonmentDelays {
            try EmailQueue.enqueue(
                userID: user, template: template, dedupeKey: "\(template.rawValue):\(user.lowercased)",
                scheduledFor: event.data.completedAt.addingTimeInterval(delay), data: [:], on: connection)
        }
    }

    public static func moduleCompleted(_ event: CloudEvent<ProgressModuleCompletedV1>, on connection: PostgresConnection) throws {
        let user = try userID(event.data.userId)
        guard event.data.firstTime, try !Tombstones.isDeleted(user, on: connection) else { return }
        try EmailQueue.enqueue(
            userID: user, template: .moduleComplete, dedupeKey: "MODULE_COMPLETE:\(user.lowercased):\(event.data.moduleId)",
            scheduledFor: event.data.completedAt, data: ["moduleId": event.data.moduleId], on: connection)
    }

    public static func courseCompleted(_ event: CloudEvent<ProgressCourseCompletedV1>, on connection: PostgresConnection) throws {
        let user = try userID(event.data.userId)
        guard event.data.firstTime, try !Tombstones.isDeleted(user, on: connection) else { return }
        try EmailQueue.enqueue(
            userID: user, template: .courseComplete, dedupeKey: "COURSE_COMPLETE:\(user.lowercased)",
            scheduledFor: event.data.completedAt, data: [:], on: connection)
    }

    // MARK: Billing

    /// A subscription's whole state (newest version wins), and the mail that follows from it.
    public static func subscription(_ state: SubscriptionState, sequence: Int64, at time: Date, canceled: Bool, on connection: PostgresConnection) throws {
        guard let userText = state.userId else { return }
        let user = try userID(userText)
        if try Tombstones.isDeleted(user, on: connection) { return }
        try ensureRecipient(user, on: connection)
        if canceled {
            try EmailQueue.enqueue(
                userID: user, template: .subscriptionCancelled, dedupeKey: "SUBSCRIPTION_CANCELLED:\(state.subscriptionId)", scheduledFor: time,
                data: [:], on: connection)
        }
        guard try AggregateVersions.advance("subscription", id: state.subscriptionId, to: sequence, on: connection) else { return }
        try connection.execute(
            """
            UPDATE recipients SET subscription_id = \(state.subscriptionId), subscription_status = \(state.status),
                subscription_interval = \(state.interval), current_period_end = \(state.currentPeriodEnd),
                cancel_at_period_end = \(state.cancelAtPeriodEnd), payment_failed_at = \(state.paymentFailedAt)
            WHERE user_id = \(user)
            """)
        let live = ["ACTIVE", "TRIALING", "PAST_DUE"].contains(state.status)
        if live {
            try EmailQueue.cancelPending(userID: user, templates: EmailTemplate.conversion, reason: "converted", now: time, on: connection)
        }
        if ["ACTIVE", "TRIALING"].contains(state.status), state.interval == "ANNUAL", !state.cancelAtPeriodEnd, let end = state.currentPeriodEnd {
            let key = "RENEWAL_REMINDER:\(state.subscriptionId):\(stamp(end))"
            try EmailQueue.cancelPending(userID: user, templates: [.renewalReminder], reason: "period changed", now: time, except: key, on: connection)
            try EmailQueue.enqueue(
                userID: user, template: .renewalReminder, dedupeKey: key, scheduledFor: end.addingTimeInterval(-renewalLead),
                data: ["periodEnd": RFC3339.format(end), "amount": state.amount.map(formatMoney(currency: state.currency ?? "gbp")) ?? ""],
                on: connection)
        } else {
            try EmailQueue.cancelPending(userID: user, templates: [.renewalReminder], reason: "not renewing", now: time, on: connection)
        }
        if !live {
            try EmailQueue.cancelPending(userID: user, templates: [.paymentFailedFinal], reason: "ended", now: time, on: connection)
        }
    }

    public static func paymentFailed(_ event: CloudEvent<BillingPaymentFailedV1>, on connection: PostgresConnection) throws {
        let data = event.data
        let user = try userID(data.userId)
        if try Tombstones.isDeleted(user, on: connection) { return }
        try ensureRecipient(user, on: connection)
        // A payment made after this failure (its event came first) settles it.
        let open = try connection.execute(
            """
            UPDATE recipients SET payment_failed_at = \(data.paymentFailedAt)
            WHERE user_id = \(user) AND (last_paid_at IS NULL OR last_paid_at < \(data.paymentFailedAt))
            """
        ).affectedRows == 1
        guard open else { return }
        let spell = "\(data.subscriptionId):\(stamp(data.paymentFailedAt))"
        let details = ["amount": formatMoney(currency: data.currency)(data.amount), "failedAt": RFC3339.format(data.paymentFailedAt)]
        try EmailQueue.enqueue(userID: user, template: .paymentFailed, dedupeKey: "PAYMENT_FAILED:\(spell)", scheduledFor: event.time, data: details, on: connection)
        try EmailQueue.enqueue(
            userID: user, template: .paymentFailedFinal, dedupeKey: "PAYMENT_FAILED_FINAL:\(spell)",
            scheduledFor: data.paymentFailedAt.addingTimeInterval(finalPaymentDelay), data: details, on: connection)
    }

    public static func paymentSucceeded(_ event: CloudEvent<BillingPaymentSucceededV1>, on connection: PostgresConnection) throws {
        let data = event.data
        let user = try userID(data.userId)
        if try Tombstones.isDeleted(user, on: connection) { return }
        try ensureRecipient(user, on: connection)
        try connection.execute(
            """
            UPDATE recipients SET last_paid_at = greatest(coalesce(last_paid_at, \(data.paidAt)), \(data.paidAt)),
                payment_failed_at = CASE WHEN payment_failed_at <= \(data.paidAt) THEN NULL ELSE payment_failed_at END
            WHERE user_id = \(user)
            """)
        try EmailQueue.cancelPending(userID: user, templates: [.paymentFailedFinal], reason: "paid", now: data.paidAt, on: connection)
    }

    /// Converted: mail meant to convert the user is pointless now.
    public static func entitlementChanged(_ user: UUID, _ entitlement: Entitlements.Entitlement, on connection: PostgresConnection) throws {
        guard entitlement.hasAccess else { return }
        try EmailQueue.cancelPending(userID: user, templates: EmailTemplate.conversion, reason: "converted", now: Date(), on: connection)
    }

    // MARK: Content

    /// A video Mux could not process: every admin is told.
    public static func videoFailed(_ event: CloudEvent<ContentVideoFailedV1>, on connection: PostgresConnection) throws {
        let admins = try connection.query(
            "SELECT user_id FROM recipients WHERE role = 'ADMIN' AND deleted_at IS NULL AND email <> '' ORDER BY user_id"
        ).map { try $0.decode("user_id", as: UUID.self) }
        for admin in admins {
            try EmailQueue.enqueue(
                userID: admin, template: .videoFailed, dedupeKey: "VIDEO_FAILED:\(event.id):\(admin.lowercased)", scheduledFor: event.time,
                data: ["lessonId": event.data.lessonId, "lessonTitle": event.data.lessonTitle, "message": event.data.message], on: connection)
        }
    }

    /// Minor units as a price: 4900 gbp → £49.00.
    static func formatMoney(currency: String) -> @Sendable (Int) -> String {
        { amount in
            let symbol = ["gbp": "£", "usd": "$", "eur": "€"][currency.lowercased()] ?? (currency.uppercased() + " ")
            return "\(amount < 0 ? "-" : "")\(symbol)\(abs(amount) / 100).\(String(format: "%02d", abs(amount) % 100))"
        }
    }
}
