import Contracts
import Database
import Foundation
import ServiceTesting
import Testing

@testable import Notifications

/// Notifications' handlers, fed the platform's events out of order and some twice, plan the same
/// mail as in order. The queue is a plan (mail queued, then called off as things change) and the
/// dispatcher decides again when each mail is due (`SendCheck`), so what is compared of it is the
/// mail that goes: each pending mail judged against the recipient as all the events leave them.
@Suite struct ShuffledDeliveryTests {
    static let mailThatGoes: ShuffledDeliveries.View = { connection in
        try connection.query(
            """
            SELECT q.user_id, q.template, q.kind, q.dedupe_key, q.scheduled_for, q.data::text AS data,
                   r.user_id AS known, r.email, r.name, r.marketing_opt_out, r.deleted_at, r.free_lesson_started_at, r.last_activity_at,
                   r.subscription_status, r.subscription_interval, r.current_period_end, r.cancel_at_period_end, r.payment_failed_at,
                   r.converted_at, coalesce(e.has_access, false) AS has_access
            FROM email_queue q LEFT JOIN recipients r ON r.user_id = q.user_id LEFT JOIN entitlements e ON e.user_id = q.user_id
            WHERE q.status = 'PENDING'
            """
        ).compactMap { row -> String? in
            let name = try row.decode("template", as: String.self)
            guard let template = EmailTemplate(rawValue: name) else { return "unknown template \(name)" }
            let scheduledFor = try row.decode("scheduled_for", as: Date.self)
            let data = try JSONDecoder().decode([String: String].self, from: Data(try row.decode("data", as: String.self).utf8))
            let skip = SendCheck.skipReason(template, facts: try MailDispatcher.facts(row), data: data, scheduledFor: scheduledFor, now: scheduledFor)
            guard skip == nil else { return nil }
            let user = try row.decode("user_id", as: UUID.self).lowercased
            return "\(template.rawValue) to \(user) at \(RFC3339.format(scheduledFor)) \(data.sorted { $0.key < $1.key })"
        }
    }

    @Test func anyOrderPlansTheMailOfTheOrderOfProduction() async throws {
        let life = try PlatformHistories()
        let state = try await ShuffledDeliveries(
            handlers: NotificationHandlers.all, migrations: NotificationsMigrations.all, views: ["email_queue": Self.mailThatGoes]
        ).check(life.histories)
        let (ada, bob) = (life.ada.lowercased, life.bob.lowercased)
        // In order: Ada's account mail, her progress mail, the end of her subscription and a
        // nudge after her last activity; nothing for Bob, who deleted his account.
        let mail = try #require(state["email_queue"])
        #expect(mail.map { String($0.prefix { $0 != " " }) }.sorted() == [
            "COURSE_COMPLETE", "INACTIVE_NUDGE", "MODULE_COMPLETE", "MODULE_COMPLETE", "PASSWORD_RESET", "SUBSCRIPTION_CANCELLED", "VERIFY_EMAIL", "WELCOME",
        ])
        #expect(mail.allSatisfy { $0.contains(ada) && !$0.contains(bob) })
        let recipients = try state.rows("recipients")
        let adaRow = try #require(recipients.first { $0["user_id"] as? String == ada })
        #expect(adaRow["email"] as? String == "ada@analytical.example" && adaRow["role"] as? String == "USER")
        #expect(adaRow["marketing_opt_out"] as? Bool == false && adaRow["converted_at"] is String)
        let bobRow = try #require(recipients.first { $0["user_id"] as? String == bob })
        #expect(bobRow["email"] as? String == "" && bobRow["deleted_at"] is String && bobRow["subscription_id"] is NSNull)
    }
}
