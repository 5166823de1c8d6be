import Contracts
import Database
import Foundation
import ServiceKit

/// How notifications reacts to events: keep its picture of each user and queue mail.
enum NotificationHandlers {
    static let all: [EventHandler] = [
        EventHandler(IdentityUserRegisteredV1.self, name: "recipients.registered") { event, connection in
            let data = event.data
            guard let userID = UUID(uuidString: data.userId) else { throw ConsumeFailure.undecodable("userId") }
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
    ]
}
