import Foundation
import Hummingbird
import ServiceKit

/// A session as the API hands it out.
struct AuthBody: Encodable, Sendable {
    var user: UserBody
    var accessToken: String
    var refreshToken: String
    var expiresIn: Int

    init(_ session: SignedIn) {
        user = UserBody(session.user)
        accessToken = session.accessToken
        refreshToken = session.refreshToken
        expiresIn = session.expiresIn
    }
}

/// A user as the API shows them.
struct UserBody: Codable, Sendable {
    var id: String
    var email: String
    var name: String
    var role: String
    var emailVerified: Bool
    var marketingOptOut: Bool
    var onboardingComplete: Bool
    var accessOverride: Bool
    var timeZone: String?
    var userType: String?
    var buildGoal: String?
    var experienceLevel: String?
    var skillLevel: String?
    var learningStyle: String?
    var weeklyHours: Int?
    var lastLoginAt: Date?
    var createdAt: Date
    var pendingEmail: String?

    init(_ user: User) {
        id = user.id.lowercased
        email = user.email
        name = user.name
        role = user.role
        emailVerified = user.emailVerified
        marketingOptOut = user.marketingOptOut
        onboardingComplete = user.onboardingComplete
        accessOverride = user.accessOverride
        timeZone = user.timeZone
        userType = user.userType
        buildGoal = user.buildGoal
        experienceLevel = user.experienceLevel
        skillLevel = user.skillLevel
        learningStyle = user.learningStyle
        weeklyHours = user.weeklyHours
        lastLoginAt = user.lastLoginAt
        createdAt = user.createdAt
        pendingEmail = user.pendingEmail
    }
}

extension IdentitySettings {
    /// The client's address of a request: the peer, or what a trusted proxy says.
    func clientAddress(_ request: Request, _ context: ServiceRequestContext) -> String {
        clientAddresses.resolve(
            peer: context.remoteAddress?.ipAddress, forwardedFor: request.headers[values: .init("X-Forwarded-For")!])
    }
}
