import Foundation

/// `notifications.consent.changed.v1`: a user's marketing consent changed through the one-click
/// unsubscribe link. Identity applies it to the profile.
public struct NotificationsConsentChangedV1: DomainEvent {
    public static let eventType = EventType(producer: .notifications, name: "consent.changed", majorVersion: 1)

    public var userId: String
    public var marketingOptOut: Bool
    /// Where the change came from: `unsubscribe_link`.
    public var source: String
    public var changedAt: Date

    public init(userId: String, marketingOptOut: Bool, source: String, changedAt: Date) {
        self.userId = userId
        self.marketingOptOut = marketingOptOut
        self.source = source
        self.changedAt = changedAt
    }

    public var subject: String { userId }
}

/// `notifications.email.sent.v1`: a mail left through the transport.
public struct NotificationsEmailSentV1: DomainEvent {
    public static let eventType = EventType(producer: .notifications, name: "email.sent", majorVersion: 1)

    /// The queue entry; one mail is sent at most once.
    public var emailId: String
    public var userId: String
    /// WELCOME, PAYMENT_FAILED, …
    public var template: String
    /// `transactional` or `marketing`.
    public var kind: String
    /// `file` or `smtp`.
    public var transport: String
    public var sentAt: Date

    public init(emailId: String, userId: String, template: String, kind: String, transport: String, sentAt: Date) {
        self.emailId = emailId
        self.userId = userId
        self.template = template
        self.kind = kind
        self.transport = transport
        self.sentAt = sentAt
    }

    public var subject: String { emailId }
}

/// `notifications.email.failed.v1`: a mail could not be sent, after every retry.
public struct NotificationsEmailFailedV1: DomainEvent {
    public static let eventType = EventType(producer: .notifications, name: "email.failed", majorVersion: 1)

    public var emailId: String
    public var userId: String
    public var template: String
    public var kind: String
    public var transport: String
    /// The transport's last error.
    public var reason: String
    public var attempts: Int
    public var failedAt: Date

    public init(emailId: String, userId: String, template: String, kind: String, transport: String, reason: String, attempts: Int, failedAt: Date) {
        self.emailId = emailId
        self.userId = userId
        self.template = template
        self.kind = kind
        self.transport = transport
        self.reason = reason
        self.attempts = attempts
        self.failedAt = failedAt
    }

    public var subject: String { emailId }
}
