import Contracts
import Database
import Foundation
import ServiceKit

/// How notifications reacts to events: keep its picture of each user, and queue or cancel mail
/// by the lifecycle rules.
enum NotificationHandlers {
    static func userID(_ text: String) throws -> UUID { try Lifecycle.userID(text) }

    static let all: [EventHandler] = [
        EventHandler(IdentityUserRegisteredV1.self, name: "recipients.registered") { event, connection in
            try Lifecycle.registered(event, on: connection)
        },
        EventHandler(IdentityUserProfileUpdatedV1.self, name: "recipients.profile") { event, connection in
            try Lifecycle.profileUpdated(event, on: connection)
        },
        EventHandler(IdentityUserRoleChangedV1.self, name: "recipients.role") { event, connection in
            try Lifecycle.roleChanged(event, on: connection)
        },
        EventHandler(IdentityUserLoggedInV1.self, name: "recipients.activity") { event, connection in
            try Lifecycle.activity(try userID(event.data.userId), at: event.data.loggedInAt, on: connection)
        },
        EventHandler(IdentityEmailVerificationLinkV1.self, name: "mail.verify_email") { event, connection in
            let data = event.data
            if try Tombstones.isDeleted(try userID(data.userId), on: connection) { return }
            try EmailQueue.enqueue(
                userID: try userID(data.userId), template: .verifyEmail, dedupeKey: "VERIFY_EMAIL:\(event.id)", scheduledFor: event.time,
                data: ["to": data.email, "verificationUrl": data.verificationUrl, "expiresAt": RFC3339.format(data.expiresAt)],
                on: connection)
        },
        EventHandler(IdentityPasswordResetLinkV1.self, name: "mail.password_reset") { event, connection in
            let data = event.data
            if try Tombstones.isDeleted(try userID(data.userId), on: connection) { return }
            try EmailQueue.enqueue(
                userID: try userID(data.userId), template: .passwordReset, dedupeKey: "PASSWORD_RESET:\(event.id)", scheduledFor: event.time,
                data: ["to": data.email, "resetUrl": data.resetUrl, "expiresAt": RFC3339.format(data.expiresAt)],
                on: connection)
        },
        EventHandler(IdentityEmailChangeRequestedV1.self, name: "mail.email_change") { event, connection in
            let data = event.data
            if try Tombstones.isDeleted(try userID(data.userId), on: connection) { return }
            try EmailQueue.enqueue(
                userID: try userID(data.userId), template: .emailChangeRequested, dedupeKey: "EMAIL_CHANGE_REQUESTED:\(event.id)",
                scheduledFor: event.time,
                data: ["to": data.email, "newEmail": data.newEmail, "revertUrl": data.revertUrl, "expiresAt": RFC3339.format(data.expiresAt)],
                on: connection)
        },
        EventHandler(BillingSubscriptionActivatedV1.self, name: "lifecycle.subscription.activated") { event, connection in
            try Lifecycle.subscription(event.data.subscription, sequence: event.sequenceNumber, at: event.time, canceled: false, on: connection)
        },
        EventHandler(BillingSubscriptionUpdatedV1.self, name: "lifecycle.subscription.updated") { event, connection in
            try Lifecycle.subscription(event.data.subscription, sequence: event.sequenceNumber, at: event.time, canceled: false, on: connection)
        },
        EventHandler(BillingSubscriptionCanceledV1.self, name: "lifecycle.subscription.canceled") { event, connection in
            try Lifecycle.subscription(event.data.subscription, sequence: event.sequenceNumber, at: event.time, canceled: true, on: connection)
        },
        EventHandler(BillingPaymentFailedV1.self, name: "lifecycle.payment.failed") { event, connection in
            try Lifecycle.paymentFailed(event, on: connection)
        },
        EventHandler(BillingPaymentSucceededV1.self, name: "lifecycle.payment.succeeded") { event, connection in
            try Lifecycle.paymentSucceeded(event, on: connection)
        },
        Entitlements.handler { userID, entitlement, connection in
            try Lifecycle.entitlementChanged(userID, entitlement, on: connection)
        },
        EventHandler(BillingEntitlementChangedV1.self, name: "recipients.converted") { event, connection in
            guard event.data.hasAccess else { return }
            try Lifecycle.converted(try userID(event.data.userId), at: event.time, on: connection)
        },
        EventHandler(ProgressLessonStartedV1.self, name: "lifecycle.lesson.started") { event, connection in
            try Lifecycle.lessonStarted(event, on: connection)
        },
        EventHandler(ProgressLessonCompletedV1.self, name: "lifecycle.lesson.completed") { event, connection in
            try Lifecycle.lessonCompleted(event, on: connection)
        },
        EventHandler(ProgressModuleCompletedV1.self, name: "lifecycle.module.completed") { event, connection in
            try Lifecycle.moduleCompleted(event, on: connection)
        },
        EventHandler(ProgressCourseCompletedV1.self, name: "lifecycle.course.completed") { event, connection in
            try Lifecycle.courseCompleted(event, on: connection)
        },
        EventHandler(ContentVideoFailedV1.self, name: "lifecycle.video.failed") { event, connection in
            try Lifecycle.videoFailed(event, on: connection)
        },
        EventHandler(WebhooksEndpointDisabledV1.self, name: "lifecycle.webhook.disabled") { event, connection in
            try Lifecycle.webhookDisabled(event, on: connection)
        },
        AccessRevocations.handler(),
        Tombstones.handler { userID, connection in
            // Erase what is personal, keep the queue and log rows (anonymous) for the record. What
            // is left of the recipient is the same whichever of their events came before the
            // deletion: a row that says only that they were deleted.
            try connection.execute(
                """
                DELETE FROM aggregate_versions WHERE aggregate = 'subscription'
                    AND aggregate_id IN (SELECT subscription_id FROM recipients WHERE user_id = \(userID) AND subscription_id IS NOT NULL)
                """)
            // Its sequences at their highest: no event of the user, even one that checked for the
            // tombstone before this committed, can write a field back.
            try connection.execute("DELETE FROM recipients WHERE user_id = \(userID)")
            try connection.execute(
                """
                INSERT INTO recipients (user_id, email, name, registered_at, deleted_at, sequence, profile_sequence, role_sequence)
                VALUES (\(userID), '', '', to_timestamp(0), now(), \(Int64.max), \(Int64.max), \(Int64.max))
                ON CONFLICT (user_id) DO UPDATE SET email = '', name = '', deleted_at = excluded.deleted_at,
                    sequence = excluded.sequence, profile_sequence = excluded.profile_sequence, role_sequence = excluded.role_sequence
                """)
            try Entitlements.forget(userID, on: connection)
            try connection.execute(
                "UPDATE email_queue SET status = 'CANCELLED', reason = 'deleted', processed_at = now() WHERE user_id = \(userID) AND status = 'PENDING'")
            // Addresses and links in past mail go too.
            try connection.execute("UPDATE email_queue SET data = '{}' WHERE user_id = \(userID)")
        },
    ]
}
