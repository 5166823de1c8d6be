import Contracts
import Foundation
import Testing

@testable import Notifications

/// The lifecycle rules and the send-time check, without a database: which mail each event plans,
/// and whether a due mail still goes.
@Suite struct LifecycleRulesTests {
    let user = UUID()
    let t0 = Date(timeIntervalSince1970: 1_900_000_000)

    func scheduled(_ steps: [MailStep]) -> [ScheduledMail] {
        steps.compactMap { if case .schedule(let mail) = $0 { mail } else { nil } }
    }

    func calledOff(_ steps: [MailStep]) -> [CalledOff] {
        steps.compactMap { if case .callOff(let off) = $0 { off } else { nil } }
    }

    func state(_ status: SubscriptionStatus, _ interval: BillingInterval = .annual, cancelAtPeriodEnd: Bool = false) -> SubscriptionState {
        SubscriptionState(
            subscriptionId: "sub_1", userId: user.lowercased, status: status, tier: .pro, interval: interval, amount: 39900, currency: "gbp",
            currentPeriodStart: t0, currentPeriodEnd: t0.addingTimeInterval(365 * 86400), cancelAtPeriodEnd: cancelAtPeriodEnd, cancelledAt: nil,
            paymentFailedAt: nil)
    }

    @Test func registrationPlansWelcomeNowAndStartJourneyADayLater() {
        let mail = scheduled(LifecycleRules.registered(user, at: t0))
        #expect(mail.map(\.template) == [.welcome, .startJourney])
        #expect(mail.map(\.at) == [t0, t0.addingTimeInterval(24 * 3600)])
        #expect(mail.map(\.dedupeKey) == ["WELCOME:\(user.lowercased)", "START_JOURNEY:\(user.lowercased)"], "once per user")
    }

    @Test func activityRestartsTheNudgeForItsSpell() {
        let steps = LifecycleRules.active(user, at: t0)
        let key = "INACTIVE_NUDGE:\(user.lowercased):\(LifecycleRules.stamp(t0))"
        #expect(calledOff(steps) == [CalledOff([.inactiveNudge], reason: "active", at: t0, except: key)])
        #expect(scheduled(steps) == [ScheduledMail(.inactiveNudge, key: key, at: t0.addingTimeInterval(7 * 86400), data: ["activityAt": RFC3339.format(t0)])])
    }

    @Test func theAbandonmentSeriesIsForAFirstCompletionWithoutAccess() {
        let first = LifecycleRules.freeLessonCompleted(user, at: t0, firstTime: true, hasAccess: false)
        #expect(calledOff(first).map(\.templates) == [[.startJourney]])
        #expect(scheduled(first).map(\.template) == [.abandonment1, .abandonment2, .abandonment3])
        #expect(scheduled(first).map { $0.at.timeIntervalSince(t0) } == [3600, 24 * 3600, 3 * 24 * 3600])
        #expect(scheduled(LifecycleRules.freeLessonCompleted(user, at: t0, firstTime: false, hasAccess: false)).isEmpty)
        #expect(scheduled(LifecycleRules.freeLessonCompleted(user, at: t0, firstTime: true, hasAccess: true)).isEmpty, "already subscribed")
    }

    @Test func completionMailOnlyTheFirstTime() {
        #expect(scheduled(LifecycleRules.moduleCompleted(user, module: "m1", firstTime: true, at: t0)).map(\.dedupeKey) == ["MODULE_COMPLETE:\(user.lowercased):m1"])
        #expect(LifecycleRules.moduleCompleted(user, module: "m1", firstTime: false, at: t0).isEmpty)
        #expect(LifecycleRules.courseCompleted(user, firstTime: false, at: t0).isEmpty)
    }

    @Test func anAnnualPlanInGoodStandingGetsARenewalReminder() throws {
        for status in [SubscriptionStatus.active, .trialing] {
            let steps = LifecycleRules.subscriptionChanged(state(status), at: t0)
            let reminder = try #require(scheduled(steps).first)
            #expect(reminder.template == .renewalReminder)
            #expect(reminder.at == t0.addingTimeInterval(362 * 86400), "three days before the period ends")
            #expect(reminder.data["amount"] == "£399.00")
            #expect(calledOff(steps).map(\.templates) == [EmailTemplate.conversion, [.renewalReminder]])
            #expect(calledOff(steps).last?.except == reminder.dedupeKey, "the reminders of other periods go")
        }
    }

    @Test func noReminderForWhatWillNotRenew() {
        for subscription in [state(.active, .monthly), state(.active, cancelAtPeriodEnd: true), state(.pastDue), state(.canceled), state(.unknown("PAUSED"))] {
            let steps = LifecycleRules.subscriptionChanged(subscription, at: t0)
            #expect(scheduled(steps).isEmpty)
            #expect(calledOff(steps).contains { $0.templates == [.renewalReminder] && $0.reason == "not renewing" })
        }
    }

    @Test func accessCallsOffConversionMailAndAnEndCallsOffTheFinalWarning() {
        for status in SubscriptionStatus.allCases {
            let off = calledOff(LifecycleRules.subscriptionChanged(state(status, .monthly), at: t0))
            #expect(off.contains { $0.templates == EmailTemplate.conversion } == status.grantsAccess, "\(status)")
            #expect(off.contains { $0.templates == [.paymentFailedFinal] && $0.reason == "ended" } == !status.grantsAccess, "\(status)")
        }
        #expect(LifecycleRules.entitlementChanged(hasAccess: false, at: t0).isEmpty)
        #expect(calledOff(LifecycleRules.entitlementChanged(hasAccess: true, at: t0)).map(\.reason) == ["converted"])
    }

    @Test func aFailedPaymentPlansTwoMailsPerSpell() {
        let failedAt = t0.addingTimeInterval(-3600)
        let data = BillingPaymentFailedV1(userId: user.lowercased, subscriptionId: "sub_1", invoiceId: "in_1", amount: 4900, currency: "gbp", paymentFailedAt: failedAt)
        let mail = scheduled(LifecycleRules.paymentFailed(data, at: t0))
        #expect(mail.map(\.template) == [.paymentFailed, .paymentFailedFinal])
        #expect(mail.map(\.at) == [t0, failedAt.addingTimeInterval(3 * 86400)], "the final warning is timed from the first failure")
        #expect(Set(mail.map { $0.dedupeKey.split(separator: ":", maxSplits: 1).last! }).count == 1, "one spell")
        #expect(calledOff(LifecycleRules.paymentSucceeded(at: t0)) == [CalledOff([.paymentFailedFinal], reason: "paid", at: t0)])
    }

    @Test func aFailedSendBacksOffThenFails() {
        #expect(DeliveryRules.afterFailure(attempts: 1, now: t0) == .retry(at: t0.addingTimeInterval(30)))
        #expect(DeliveryRules.afterFailure(attempts: 3, now: t0) == .retry(at: t0.addingTimeInterval(120)))
        #expect(DeliveryRules.afterFailure(attempts: DeliveryRules.maximumAttempts, now: t0) == .fail)
        #expect(DeliveryRules.backoff(afterAttempt: 20) == 3600, "at most an hour")
    }

    @Test func atSendTimeTheRecipientIsAskedAgain() {
        let facts = RecipientFacts(email: "a@example.com", name: "A")
        func skip(_ template: EmailTemplate, _ facts: RecipientFacts?, data: [String: String] = [:], late: TimeInterval = 0) -> String? {
            SendCheck.skipReason(template, facts: facts, data: data, scheduledFor: t0, now: t0.addingTimeInterval(late))
        }
        #expect(skip(.welcome, facts) == nil)
        #expect(skip(.welcome, facts, late: 8 * 86400) == "expired")
        #expect(skip(.welcome, nil) == "unknown recipient")
        #expect(skip(.welcome, RecipientFacts(email: "", name: "")) == "unknown recipient")
        #expect(skip(.welcome, RecipientFacts(email: "a@example.com", name: "A", deleted: true)) == "deleted")
        #expect(skip(.inactiveNudge, RecipientFacts(email: "a@example.com", name: "A", marketingOptOut: true)) == "opted out", "unsubscribed")
        #expect(skip(.paymentFailed, RecipientFacts(email: "a@example.com", name: "A", marketingOptOut: true)) == "paid", "transactional mail ignores the opt-out")
        #expect(skip(.abandonment1, RecipientFacts(email: "a@example.com", name: "A", hasAccess: true)) == "converted")
        #expect(skip(.startJourney, RecipientFacts(email: "a@example.com", name: "A", freeLessonStartedAt: t0)) == "started")

        let end = t0.addingTimeInterval(3 * 86400)
        let reminder = ["periodEnd": RFC3339.format(end)]
        func renewing(_ status: SubscriptionStatus, _ interval: BillingInterval = .annual, cancel: Bool = false) -> RecipientFacts {
            RecipientFacts(
                email: "a@example.com", name: "A", subscriptionStatus: status, subscriptionInterval: interval, currentPeriodEnd: end, cancelAtPeriodEnd: cancel)
        }
        #expect(skip(.renewalReminder, renewing(.active), data: reminder) == nil)
        #expect(skip(.renewalReminder, renewing(.trialing), data: reminder) == nil)
        #expect(skip(.renewalReminder, renewing(.pastDue), data: reminder) == "not renewing")
        #expect(skip(.renewalReminder, renewing(.active, .monthly), data: reminder) == "not renewing")
        #expect(skip(.renewalReminder, renewing(.active, cancel: true), data: reminder) == "not renewing")
        #expect(skip(.renewalReminder, renewing(.active), data: ["periodEnd": RFC3339.format(end.addingTimeInterval(86400))]) == "not renewing", "another period")

        let failing = RecipientFacts(email: "a@example.com", name: "A", paymentFailedAt: t0)
        #expect(skip(.paymentFailedFinal, failing, data: ["failedAt": RFC3339.format(t0)]) == nil)
        #expect(skip(.paymentFailedFinal, RecipientFacts(email: "a@example.com", name: "A"), data: ["failedAt": RFC3339.format(t0)]) == "paid")
    }
}
