import Foundation

/// `identity.user.registered.v1`: an account was created. Carries what subscribers need to greet
/// and address the user; never a password hash or a token.
public struct IdentityUserRegisteredV1: DomainEvent {
    public static let eventType = EventType(producer: .identity, name: "user.registered", majorVersion: 1)

    public var userId: String
    public var email: String
    public var name: String
    public var role: String
    public var emailVerified: Bool
    public var marketingOptOut: Bool
    public var registeredAt: Date

    public init(userId: String, email: String, name: String, role: String, emailVerified: Bool, marketingOptOut: Bool, registeredAt: Date) {
        self.userId = userId
        self.email = email
        self.name = name
        self.role = role
        self.emailVerified = emailVerified
        self.marketingOptOut = marketingOptOut
        self.registeredAt = registeredAt
    }

    public var subject: String { userId }
}
