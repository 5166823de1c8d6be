import Contracts
import Database
import Foundation
import ServiceKit

/// How notifications reacts to events: keep its picture of each user and queue mail.
enum NotificationHandlers {
    static func userID(_ text: String) throws -> UUID {
        guard let id = UUID(uuidString: text) else { throw ConsumeFailure.undecodable("userId is not a UUID") }
        return id
    }

    static let all: [EventHandler] = [
        EventHandler(IdentityUserRegisteredV1.self, name: "recipients.registered") { event, connection in
            let data = event.data
            let userID = try userID(data.userId)
            if try Tombstones.isDeleted(userID, on: connection) { return }
            // Whole-state upsert that never lets an older event overwrite a newer one.
            try connection.execute(
                """
                INSERT INTO recipients (user_id, email, name, role, marketing_opt_out, registered_at, sequence)
                VALUES (\(userID), \(data.email), \(data.name), \(data.role), \(data.marketingOptOut), \(data.registeredAt), \(event.sequenceNumber))
                ON CONFLICT (user_id) DO UPDATE SET
                    email = excluded.email, name = excluded.name, role = excluded.role,
                    marketing_opt_out = excluded.marketing_opt_out, sequence = excluded.sequence, updated_at = now()
                WHERE recipients.sequence < excluded.sequence
                """)
            // WELCOME goes once per user, however often the event arrives.
            try EmailQueue.enqueue(
                userID: userID, template: .welcome, dedupeKey: "WELCOME:\(userID.lowercased)", scheduledFor: event.time,
                data: [:], on: connection)
        },
        EventHandler(IdentityUserProfileUpdatedV1.self, name: "recipients.profile") { event, connection in
            let data = event.data
            let userID = try userID(data.userId)
            if try Tombstones.isDeleted(userID, on: connection) { return } // never write an erased user back
            try connection.execute(
                """
                UPDATE recipients SET email = \(data.email), name = \(data.name), marketing_opt_out = \(data.marketingOptOut),
                    sequence = \(event.sequenceNumber), updated_at = now()
                WHERE user_id = \(userID) AND sequence < \(event.sequenceNumber)
                """)
        },
        EventHandler(IdentityUserRoleChangedV1.self, name: "recipients.role") { event, connection in
            if try Tombstones.isDeleted(try userID(event.data.userId), on: connection) { return }
            try connection.execute(
                """
                UPDATE recipients SET role = \(event.data.role), sequence = \(event.sequenceNumber), updated_at = now()
                WHERE user_id = \(try userID(event.data.userId)) AND sequence < \(event.sequenceNumber)
                """)
        },
        EventHandler(IdentityUserLoggedInV1.self, name: "recipients.activity") { event, connection in
            try connection.execute(
                """
                UPDATE recipients SET last_activity_at = greatest(coalesce(last_activity_at, \(event.data.loggedInAt)), \(event.data.loggedInAt))
                WHERE user_id = \(try userID(event.data.userId))
                """)
        },
        EventHandler(IdentityEmailVerificationRequestedV1.self, name: "mail.verify_email") { event, connection in
            let data = event.data
            try EmailQueue.enqueue(
                userID: try userID(data.userId), template: .verifyEmail, dedupeKey: "VERIFY_EMAIL:\(event.id)", scheduledFor: event.time,
                data: ["to": data.email, "verificationUrl": data.verificationUrl, "expiresAt": RFC3339.format(data.expiresAt)],
                on: connection)
        },
        EventHandler(IdentityPasswordResetRequestedV1.self, name: "mail.password_reset") { event, connection in
            let data = event.data
            try EmailQueue.enqueue(
                userID: try userID(data.userId), template: .passwordReset, dedupeKey: "PASSWORD_RESET:\(event.id)", scheduledFor: event.time,
                data: ["to": data.email, "resetUrl": data.resetUrl, "expiresAt": RFC3339.format(data.expiresAt)],
                on: connection)
        },
        Tombstones.handler { userID, connection in
            // Erase what is personal, keep the queue and log rows (anonymous) for the record.
            try connection.execute(
                "UPDATE recipients SET email = '', name = '', deleted_at = now() WHERE user_id = \(userID)")
            try connection.execute(
                "UPDATE email_queue SET status = 'CANCELLED', reason = 'deleted', processed_at = now(), data = '{}' WHERE user_id = \(userID) AND status = 'PENDING'")
        },
    ]
}
