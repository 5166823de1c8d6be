import Foundation

/// A user as identity stores it.
public struct User: Sendable, Equatable, Codable {
    public var id: UUID
    public var email: String
    public var name: String
    public var role: String
    public var emailVerified: Bool
    public var marketingOptOut: Bool
    public var onboardingComplete: Bool
    public var accessOverride: Bool
    public var timeZone: String?
    public var userType: String?
    public var buildGoal: String?
    public var experienceLevel: String?
    public var skillLevel: String?
    public var learningStyle: String?
    public var weeklyHours: Int?
    public var lastLoginAt: Date?
    public var createdAt: Date
    /// A new address waiting for its verification link to be followed; until then `email` is the
    /// sign-in and reset address.
    public var pendingEmail: String?
    /// Counts the changes of the account; the sequence of the events that describe it.
    public internal(set) var version: Int64
    /// The bcrypt hash; nil for an account made through a provider (or whose password a revert
    /// removed).
    public internal(set) var passwordHash: String?
}
