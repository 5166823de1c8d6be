import Contracts
import Foundation

/// What notifications knows of a user when a mail falls due.
public struct RecipientFacts: Sendable, Equatable {
    public var email: String
    public var name: String
    public var deleted: Bool
    public var marketingOptOut: Bool
    public var hasAccess: Bool
    /// Whether the user ever had access (a subscriber who left is not someone to convert).
    public var converted: Bool
    public var freeLessonStartedAt: Date?
    public var lastActivityAt: Date?
    public var subscriptionStatus: SubscriptionStatus?
    public var subscriptionInterval: BillingInterval?
    public var currentPeriodEnd: Date?
    public var cancelAtPeriodEnd: Bool
    public var paymentFailedAt: Date?

    public init(
        email: String, name: String, deleted: Bool = false, marketingOptOut: Bool = false, hasAccess: Bool = false, converted: Bool = false, freeLessonStartedAt: Date? = nil,
        lastActivityAt: Date? = nil, subscriptionStatus: SubscriptionStatus? = nil, subscriptionInterval: BillingInterval? = nil, currentPeriodEnd: Date? = nil,
        cancelAtPeriodEnd: Bool = false, paymentFailedAt: Date? = nil
    ) {
        self.email = email
        self.name = name
        self.deleted = deleted
        self.marketingOptOut = marketingOptOut
        self.hasAccess = hasAccess
        self.converted = converted || hasAccess
        self.freeLessonStartedAt = freeLessonStartedAt
        self.lastActivityAt = lastActivityAt
        self.subscriptionStatus = subscriptionStatus
        self.subscriptionInterval = subscriptionInterval
        self.currentPeriodEnd = currentPeriodEnd
        self.cancelAtPeriodEnd = cancelAtPeriodEnd
        self.paymentFailedAt = paymentFailedAt
    }
}

/// The second look at a mail when it falls due: the user's state may have changed since it was
/// queued (subscribed, paid, opted out, deleted, came back). Returns why it must not go, or nil.
/// Whether it was already sent is the queue's to know: only a PENDING mail is ever looked at,
/// and a sent one is never PENDING again but by an admin's retry of a FAILED one.
public enum SendCheck {
    public static let maximumLateness: TimeInterval = 7 * 24 * 3600

    public static func skipReason(_ template: EmailTemplate, facts: RecipientFacts?, data: [String: String], scheduledFor: Date, now: Date) -> String? {
        if now.timeIntervalSince(scheduledFor) > maximumLateness { return "expired" }
        guard let facts else { return "unknown recipient" }
        if facts.deleted { return "deleted" }
        if facts.email.isEmpty { return "unknown recipient" }
        if template.kind == .marketing, facts.marketingOptOut { return "opted out" }
        if EmailTemplate.conversion.contains(template), facts.converted { return "converted" }
        switch template {
        case .startJourney:
            if facts.freeLessonStartedAt != nil { return "started" }
        case .inactiveNudge:
            let spell = data["activityAt"].flatMap(RFC3339.parse)
            if let spell, let last = facts.lastActivityAt, last > spell { return "active" }
        case .renewalReminder:
            let end = data["periodEnd"].flatMap(RFC3339.parse)
            let renewing = facts.subscriptionStatus?.isInGoodStanding == true && facts.subscriptionInterval == .annual
                && !facts.cancelAtPeriodEnd && end != nil && facts.currentPeriodEnd.map { abs($0.timeIntervalSince(end!)) < 1 } == true
            if !renewing { return "not renewing" }
        case .paymentFailed, .paymentFailedFinal:
            let failedAt = data["failedAt"].flatMap(RFC3339.parse)
            guard let current = facts.paymentFailedAt, let failedAt, abs(current.timeIntervalSince(failedAt)) < 1 else { return "paid" }
        default:
            break
        }
        return nil
    }
}
