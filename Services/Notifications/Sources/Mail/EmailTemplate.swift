/// The mails notifications sends. Transactional mail goes to everyone; marketing mail respects
/// the opt-out and carries a one-click unsubscribe link.
public enum EmailTemplate: String, Sendable, CaseIterable, Codable {
    case welcome = "WELCOME"
    case verifyEmail = "VERIFY_EMAIL"
    case passwordReset = "PASSWORD_RESET"
    case emailChangeRequested = "EMAIL_CHANGE_REQUESTED"
    case videoFailed = "VIDEO_FAILED"
    case webhookDisabled = "WEBHOOK_DISABLED"
    case startJourney = "START_JOURNEY"
    case abandonment1 = "ABANDONMENT_1"
    case abandonment2 = "ABANDONMENT_2"
    case abandonment3 = "ABANDONMENT_3"
    case moduleComplete = "MODULE_COMPLETE"
    case courseComplete = "COURSE_COMPLETE"
    case inactiveNudge = "INACTIVE_NUDGE"
    case renewalReminder = "RENEWAL_REMINDER"
    case paymentFailed = "PAYMENT_FAILED"
    case paymentFailedFinal = "PAYMENT_FAILED_FINAL"
    case subscriptionCancelled = "SUBSCRIPTION_CANCELLED"

    public enum Kind: String, Sendable { case transactional, marketing }

    public var kind: Kind {
        switch self {
        case .startJourney, .abandonment1, .abandonment2, .abandonment3, .moduleComplete, .courseComplete, .inactiveNudge: .marketing
        default: .transactional
        }
    }

    /// The mails that try to convert a learner: a subscription makes them pointless.
    public static let conversion: [EmailTemplate] = [.startJourney, .abandonment1, .abandonment2, .abandonment3]
}
