import Contracts
import Foundation
import ServiceKit

/// A mail to queue, once per dedupe key (a second queueing of the same key does nothing).
public struct ScheduledMail: Sendable, Equatable {
    public var template: EmailTemplate
    public var dedupeKey: String
    public var at: Date
    public var data: [String: String]

    public init(_ template: EmailTemplate, key dedupeKey: String, at: Date, data: [String: String] = [:]) {
        self.template = template
        self.dedupeKey = dedupeKey
        self.at = at
        self.data = data
    }
}

/// Pending mail of these templates to call off (what made it worth sending is gone), but for the
/// one with `except` as its key.
public struct CalledOff: Sendable, Equatable {
    public var templates: [EmailTemplate]
    public var reason: String
    public var at: Date
    public var except: String?

    public init(_ templates: [EmailTemplate], reason: String, at: Date, except: String? = nil) {
        self.templates = templates
        self.reason = reason
        self.at = at
        self.except = except
    }
}

/// One thing an event does to a user's mail, in order.
public enum MailStep: Sendable, Equatable {
    case schedule(ScheduledMail)
    case callOff(CalledOff)
}

/// The lifecycle rules: which mail each event queues or calls off. Times come from the events
/// (when things happened), never from the clock, so a late or replayed event plans the same
/// mail; whether a mail still goes is decided again when it is due (`SendCheck`).
public enum LifecycleRules {
    public static let startJourneyDelay: TimeInterval = 24 * 3600
    public static let abandonmentDelays: [(EmailTemplate, TimeInterval)] = [
        (.abandonment1, 3600), (.abandonment2, 24 * 3600), (.abandonment3, 3 * 24 * 3600),
    ]
    public static let inactivityDelay: TimeInterval = 7 * 24 * 3600
    public static let renewalLead: TimeInterval = 3 * 24 * 3600
    public static let finalPaymentDelay: TimeInterval = 3 * 24 * 3600

    /// A stable text for an instant, for dedupe keys (millisecond precision, as events carry).
    public static func stamp(_ date: Date) -> String { String(Int64((date.timeIntervalSince1970 * 1000).rounded())) }

    /// WELCOME at once and START_JOURNEY a day later, each once per user however often the
    /// registration arrives.
    public static func registered(_ user: UUID, at time: Date) -> [MailStep] {
        [
            .schedule(ScheduledMail(.welcome, key: "WELCOME:\(user.lowercased)", at: time)),
            .schedule(ScheduledMail(.startJourney, key: "START_JOURNEY:\(user.lowercased)", at: time.addingTimeInterval(startJourneyDelay))),
        ]
    }

    /// Activity newer than any seen restarts the inactivity timer: the pending nudge is called
    /// off and one queued for this spell (one nudge per spell of inactivity).
    public static func active(_ user: UUID, at time: Date) -> [MailStep] {
        let key = "INACTIVE_NUDGE:\(user.lowercased):\(stamp(time))"
        return [
            .callOff(CalledOff([.inactiveNudge], reason: "active", at: time, except: key)),
            .schedule(ScheduledMail(.inactiveNudge, key: key, at: time.addingTimeInterval(inactivityDelay), data: ["activityAt": RFC3339.format(time)])),
        ]
    }

    /// The free lesson was started: no need to nudge the user to start.
    public static func freeLessonStarted(at time: Date) -> [MailStep] {
        [.callOff(CalledOff([.startJourney], reason: "started", at: time))]
    }

    /// The free lesson was completed. The abandonment series is timed from its first completion,
    /// and only for someone who has not subscribed.
    public static func freeLessonCompleted(_ user: UUID, at time: Date, firstTime: Bool, hasAccess: Bool) -> [MailStep] {
        var steps = freeLessonStarted(at: time)
        guard firstTime, !hasAccess else { return steps }
        for (template, delay) in abandonmentDelays {
            steps.append(.schedule(ScheduledMail(template, key: "\(template.rawValue):\(user.lowercased)", at: time.addingTimeInterval(delay))))
        }
        return steps
    }

    /// Completion mail, only the first time.
    public static func moduleCompleted(_ user: UUID, module: String, firstTime: Bool, at time: Date) -> [MailStep] {
        guard firstTime else { return [] }
        return [.schedule(ScheduledMail(.moduleComplete, key: "MODULE_COMPLETE:\(user.lowercased):\(module)", at: time, data: ["moduleId": module]))]
    }

    public static func courseCompleted(_ user: UUID, firstTime: Bool, at time: Date) -> [MailStep] {
        guard firstTime else { return [] }
        return [.schedule(ScheduledMail(.courseComplete, key: "COURSE_COMPLETE:\(user.lowercased)", at: time))]
    }

    /// A subscription that ended: SUBSCRIPTION_CANCELLED, once per subscription (whatever the
    /// order its events arrive in).
    public static func subscriptionEnded(_ state: SubscriptionState, at time: Date) -> [MailStep] {
        [.schedule(ScheduledMail(.subscriptionCancelled, key: "SUBSCRIPTION_CANCELLED:\(state.subscriptionId)", at: time))]
    }

    /// The mail that follows from a subscription's newest state: conversion mail is pointless
    /// once it gives access; an annual plan in good standing that will renew gets a reminder
    /// before its period ends (one per period); anything else calls the reminder off; an ended
    /// one calls off the final payment warning.
    public static func subscriptionChanged(_ state: SubscriptionState, at time: Date) -> [MailStep] {
        var steps: [MailStep] = []
        let live = state.status.grantsAccess
        if live { steps.append(.callOff(CalledOff(EmailTemplate.conversion, reason: "converted", at: time))) }
        if state.status.isInGoodStanding, state.interval == .annual, !state.cancelAtPeriodEnd, let end = state.currentPeriodEnd {
            let key = "RENEWAL_REMINDER:\(state.subscriptionId):\(stamp(end))"
            let amount = state.amount.map(formatMoney(currency: state.currency ?? "gbp")) ?? ""
            steps.append(.callOff(CalledOff([.renewalReminder], reason: "period changed", at: time, except: key)))
            steps.append(.schedule(ScheduledMail(
                .renewalReminder, key: key, at: end.addingTimeInterval(-renewalLead), data: ["periodEnd": RFC3339.format(end), "amount": amount])))
        } else {
            steps.append(.callOff(CalledOff([.renewalReminder], reason: "not renewing", at: time)))
        }
        if !live { steps.append(.callOff(CalledOff([.paymentFailedFinal], reason: "ended", at: time))) }
        return steps
    }

    /// A failed payment not settled by a later one: PAYMENT_FAILED at once and the final warning
    /// some days after the first failure of the spell, each once per spell.
    public static func paymentFailed(_ data: BillingPaymentFailedV1, at time: Date) -> [MailStep] {
        let spell = "\(data.subscriptionId):\(stamp(data.paymentFailedAt))"
        let details = ["amount": formatMoney(currency: data.currency)(data.amount), "failedAt": RFC3339.format(data.paymentFailedAt)]
        return [
            .schedule(ScheduledMail(.paymentFailed, key: "PAYMENT_FAILED:\(spell)", at: time, data: details)),
            .schedule(ScheduledMail(
                .paymentFailedFinal, key: "PAYMENT_FAILED_FINAL:\(spell)", at: data.paymentFailedAt.addingTimeInterval(finalPaymentDelay), data: details)),
        ]
    }

    public static func paymentSucceeded(at time: Date) -> [MailStep] {
        [.callOff(CalledOff([.paymentFailedFinal], reason: "paid", at: time))]
    }

    /// Converted: mail meant to convert the user is pointless now.
    public static func entitlementChanged(hasAccess: Bool, at time: Date) -> [MailStep] {
        hasAccess ? [.callOff(CalledOff(EmailTemplate.conversion, reason: "converted", at: time))] : []
    }

    /// A video Mux could not process: every admin is told, once per event.
    public static func videoFailed(
        event: String, lessonId: String, lessonTitle: String, message: String, admin: UUID, at time: Date
    ) -> [MailStep] {
        [.schedule(ScheduledMail(
            .videoFailed, key: "VIDEO_FAILED:\(event):\(admin.lowercased)", at: time,
            data: ["lessonId": lessonId, "lessonTitle": lessonTitle, "message": message]))]
    }

    /// A webhook endpoint disabled for failing: every admin is told, once per event.
    public static func webhookDisabled(event: String, data: [String: String], admin: UUID, at time: Date) -> [MailStep] {
        [.schedule(ScheduledMail(.webhookDisabled, key: "WEBHOOK_DISABLED:\(event):\(admin.lowercased)", at: time, data: data))]
    }

    /// Minor units as a price: 4900 gbp → £49.00.
    public static func formatMoney(currency: String) -> @Sendable (Int) -> String {
        { amount in
            let symbol = ["gbp": "£", "usd": "$", "eur": "€"][currency.lowercased()] ?? (currency.uppercased() + " ")
            return "\(amount < 0 ? "-" : "")\(symbol)\(abs(amount) / 100).\(String(format: "%02d", abs(amount) % 100))"
        }
    }
}

/// What becomes of a mail the transport could not take: tried again after a backoff (30 s,
/// 1 min, 2 min … at most an hour), FAILED after the last attempt.
public enum DeliveryRules {
    public static let maximumAttempts = 5

    public enum AfterFailure: Sendable, Equatable {
        case retry(at: Date)
        case fail
    }

    public static func backoff(afterAttempt attempt: Int) -> TimeInterval {
        min(3600, 30 * pow(2, Double(max(0, attempt - 1))))
    }

    public static func afterFailure(attempts: Int, now: Date) -> AfterFailure {
        attempts >= maximumAttempts ? .fail : .retry(at: now.addingTimeInterval(backoff(afterAttempt: attempts)))
    }
}
