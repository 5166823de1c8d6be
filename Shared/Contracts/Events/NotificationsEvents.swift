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
