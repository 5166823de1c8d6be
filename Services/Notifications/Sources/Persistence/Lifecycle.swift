import Contracts
import Database
import Foundation
import ServiceKit

/// What each event teaches notifications about a user, kept in `recipients`, and the mail the
/// lifecycle rules (`LifecycleRules`) plan from it, queued or called off in the same transaction.
/// The dispatcher, which takes the clock, re-checks every mail against the user's state when it
/// is due.
public enum Lifecycle {
    static func userID(_ text: String) throws -> UUID {
        guard let id = UUID(uuidString: text) else { throw ConsumeFailure.undecodable("userId is not a UUID") }
        return id
    }

    /// Queues and calls off the user's mail as the rules planned it, in order.
    static func apply(_ steps: [MailStep], to user: UUID, on connection: PostgresConnection) throws {
        for step in steps {
            switch step {
            case .schedule(let mail):
                try EmailQueue.enqueue(
                    userID: user, template: mail.template, dedupeKey: mail.dedupeKey, scheduledFor: mail.at, data: mail.data, on: connection)
            case .callOff(let off):
                try EmailQueue.cancelPending(userID: user, templates: off.templates, reason: off.reason, now: off.at, except: off.except, on: connection)
            }
        }
    }

    /// Makes sure the user has a row: billing or progress may speak of a user before identity's
    /// registration arrives.
    static func ensureRecipient(_ user: UUID, on connection: PostgresConnection) throws {
        try connection.execute(
            "INSERT INTO recipients (user_id, email, name, registered_at) VALUES (\(user), '', '', to_timestamp(0)) ON CONFLICT DO NOTHING")
    }

    // MARK: Identity

    /// A profile update (email, name, marketing choice), kept unless a later one is there already;
    /// it makes the row if the registration has not arrived yet.
    public static func profileUpdated(_ event: CloudEvent<IdentityUserProfileUpdatedV1>, on connection: PostgresConnection) throws {
        let data = event.data
        let user = try userID(data.userId)
        if try Tombstones.isDeleted(user, on: connection) { return } // never write an erased user back
        try connection.execute(
            """
            INSERT INTO recipients (user_id, email, name, marketing_opt_out, registered_at, sequence, profile_sequence)
            VALUES (\(user), \(data.email), \(data.name), \(data.marketingOptOut), to_timestamp(0), \(event.sequenceNumber), \(event.sequenceNumber))
            ON CONFLICT (user_id) DO UPDATE SET
                email = excluded.email, name = excluded.name, marketing_opt_out = excluded.marketing_opt_out,
                profile_sequence = excluded.profile_sequence, sequence = greatest(recipients.sequence, excluded.sequence), updated_at = now()
            WHERE recipients.profile_sequence < excluded.profile_sequence
            """)
    }

    /// A role change, kept unless a later one is there already.
    public static func roleChanged(_ event: CloudEvent<IdentityUserRoleChangedV1>, on connection: PostgresConnection) throws {
        let user = try userID(event.data.userId)
        if try Tombstones.isDeleted(user, on: connection) { return }
        try connection.execute(
            """
            INSERT INTO recipients (user_id, email, name, role, registered_at, sequence, role_sequence)
            VALUES (\(user), '', '', \(event.data.role), to_timestamp(0), \(event.sequenceNumber), \(event.sequenceNumber))
            ON CONFLICT (user_id) DO UPDATE SET
                role = excluded.role, role_sequence = excluded.role_sequence,
                sequence = greatest(recipients.sequence, excluded.sequence), updated_at = now()
            WHERE recipients.role_sequence < excluded.role_sequence
            """)
    }

    public static func registered(_ event: CloudEvent<IdentityUserRegisteredV1>, on connection: PostgresConnection) throws {
        let data = event.data
        let user = try userID(data.userId)
        if try Tombstones.isDeleted(user, on: connection) { return }
        // The registration sets every field; each group is taken only where no later event of
        // its kind has set it already (a profile update or a role change may come first).
        try connection.execute(
            """
            INSERT INTO recipients (user_id, email, name, role, marketing_opt_out, registered_at, sequence, profile_sequence, role_sequence)
            VALUES (\(user), \(data.email), \(data.name), \(data.role), \(data.marketingOptOut), \(data.registeredAt),
                \(event.sequenceNumber), \(event.sequenceNumber), \(event.sequenceNumber))
            ON CONFLICT (user_id) DO UPDATE SET
                email = CASE WHEN recipients.profile_sequence < excluded.profile_sequence THEN excluded.email ELSE recipients.email END,
                name = CASE WHEN recipients.profile_sequence < excluded.profile_sequence THEN excluded.name ELSE recipients.name END,
                marketing_opt_out = CASE WHEN recipients.profile_sequence < excluded.profile_sequence
                    THEN excluded.marketing_opt_out ELSE recipients.marketing_opt_out END,
                role = CASE WHEN recipients.role_sequence < excluded.role_sequence THEN excluded.role ELSE recipients.role END,
                registered_at = excluded.registered_at,
                profile_sequence = greatest(recipients.profile_sequence, excluded.profile_sequence),
                role_sequence = greatest(recipients.role_sequence, excluded.role_sequence),
                sequence = greatest(recipients.sequence, excluded.sequence), updated_at = now()
            """)
        try apply(LifecycleRules.registered(user, at: data.registeredAt), to: user, on: connection)
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
        try apply(LifecycleRules.active(user, at: time), to: user, on: connection)
    }

    // MARK: Progress

    public static func lessonStarted(_ event: CloudEvent<ProgressLessonStartedV1>, on connection: PostgresConnection) throws {
        let user = try userID(event.data.userId)
        try activity(user, at: event.data.startedAt, on: connection)
        guard event.data.isFree, try !Tombstones.isDeleted(user, on: connection) else { return }
        try connection.execute(
            "UPDATE recipients SET free_lesson_started_at = least(coalesce(free_lesson_started_at, \(event.data.startedAt)), \(event.data.startedAt)) WHERE user_id = \(user)")
        try apply(LifecycleRules.freeLessonStarted(at: event.data.startedAt), to: user, on: connection)
    }

    public static func lessonCompleted(_ event: CloudEvent<ProgressLessonCompletedV1>, on connection: PostgresConnection) throws {
        let user = try userID(event.data.userId)
        try activity(user, at: event.data.completedAt, on: connection)
        guard event.data.isFree, try !Tombstones.isDeleted(user, on: connection) else { return }
        let first = try connection.execute(
            "UPDATE recipients SET free_lesson_completed_at = \(event.data.completedAt), free_lesson_started_at = coalesce(free_lesson_started_at, \(event.data.completedAt)) WHERE user_id = \(user) AND free_lesson_completed_at IS NULL"
        ).affectedRows == 1
        let converted = try !connection.query("SELECT 1 FROM recipients WHERE user_id = \(user) AND converted_at IS NOT NULL").isEmpty
        let steps = LifecycleRules.freeLessonCompleted(
            user, at: event.data.completedAt, firstTime: first, hasAccess: try converted || Entitlements.of(user, on: connection).hasAccess)
        try apply(steps, to: user, on: connection)
    }

    public static func moduleCompleted(_ event: CloudEvent<ProgressModuleCompletedV1>, on connection: PostgresConnection) throws {
        let user = try userID(event.data.userId)
        if try Tombstones.isDeleted(user, on: connection) { return }
        let steps = LifecycleRules.moduleCompleted(user, module: event.data.moduleId, firstTime: event.data.firstTime, at: event.data.completedAt)
        try apply(steps, to: user, on: connection)
    }

    public static func courseCompleted(_ event: CloudEvent<ProgressCourseCompletedV1>, on connection: PostgresConnection) throws {
        let user = try userID(event.data.userId)
        if try Tombstones.isDeleted(user, on: connection) { return }
        try apply(LifecycleRules.courseCompleted(user, firstTime: event.data.firstTime, at: event.data.completedAt), to: user, on: connection)
    }

    // MARK: Billing

    /// A subscription's whole state (newest version wins), and the mail that follows from it.
    public static func subscription(_ state: SubscriptionState, sequence: Int64, at time: Date, canceled: Bool, on connection: PostgresConnection) throws {
        guard let userText = state.userId else { return }
        let user = try userID(userText)
        if try Tombstones.isDeleted(user, on: connection) { return }
        try ensureRecipient(user, on: connection)
        if canceled { try apply(LifecycleRules.subscriptionEnded(state, at: time), to: user, on: connection) }
        guard try AggregateVersions.advance("subscription", id: state.subscriptionId, to: sequence, on: connection) else { return }
        try connection.execute(
            """
            UPDATE recipients SET subscription_id = \(state.subscriptionId), subscription_status = \(state.status.rawValue),
                subscription_interval = \(state.interval?.rawValue), current_period_end = \(state.currentPeriodEnd),
                cancel_at_period_end = \(state.cancelAtPeriodEnd), payment_failed_at = \(state.paymentFailedAt)
            WHERE user_id = \(user)
            """)
        try apply(LifecycleRules.subscriptionChanged(state, at: time), to: user, on: connection)
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
        try apply(LifecycleRules.paymentFailed(data, at: event.time), to: user, on: connection)
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
        try apply(LifecycleRules.paymentSucceeded(at: data.paidAt), to: user, on: connection)
    }

    /// The user had access at `time`: from then on they count as converted, whichever of their
    /// entitlements arrives last (the earliest grant is kept).
    public static func converted(_ user: UUID, at time: Date, on connection: PostgresConnection) throws {
        if try Tombstones.isDeleted(user, on: connection) { return }
        try ensureRecipient(user, on: connection)
        try connection.execute(
            "UPDATE recipients SET converted_at = least(coalesce(converted_at, \(time)), \(time)) WHERE user_id = \(user)")
    }

    /// Converted: mail meant to convert the user is pointless now.
    public static func entitlementChanged(_ user: UUID, _ entitlement: Entitlements.Entitlement, on connection: PostgresConnection) throws {
        try apply(LifecycleRules.entitlementChanged(hasAccess: entitlement.hasAccess, at: Date()), to: user, on: connection)
    }

    // MARK: Content

    /// A video Mux could not process: every admin is told.
    public static func videoFailed(_ event: CloudEvent<ContentVideoFailedV1>, on connection: PostgresConnection) throws {
        let admins = try connection.query(
            "SELECT user_id FROM recipients WHERE role = \(Role.admin.rawValue) AND deleted_at IS NULL AND email <> '' ORDER BY user_id"
        ).map { try $0.decode("user_id", as: UUID.self) }
        for admin in admins {
            let steps = LifecycleRules.videoFailed(
                event: event.id, lessonId: event.data.lessonId, lessonTitle: event.data.lessonTitle, message: event.data.message, admin: admin,
                at: event.time)
            try apply(steps, to: admin, on: connection)
        }
    }

    public static func webhookDisabled(_ event: CloudEvent<WebhooksEndpointDisabledV1>, on connection: PostgresConnection) throws {
        let admins = try connection.query(
            "SELECT user_id FROM recipients WHERE role = \(Role.admin.rawValue) AND deleted_at IS NULL AND email <> '' ORDER BY user_id"
        ).map { try $0.decode("user_id", as: UUID.self) }
        let data = [
            "endpointId": event.data.endpointId, "origin": event.data.origin,
            "description": event.data.description.isEmpty ? "no description" : event.data.description,
            "failingSince": RFC3339.format(event.data.failingSince), "lastError": event.data.lastError,
        ]
        for admin in admins {
            try apply(LifecycleRules.webhookDisabled(event: event.id, data: data, admin: admin, at: event.time), to: admin, on: connection)
        }
    }
}
