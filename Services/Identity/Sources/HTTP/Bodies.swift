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

/// A user as the API shows them: what identity stores of them but the version and the password
/// hash, the id in lower case, absent optional fields left out.
struct UserBody: Encodable, Sendable {
    let user: User

    init(_ user: User) {
        self.user = user
    }

    enum Key: String, CodingKey {
        case id, email, name, role, emailVerified, marketingOptOut, onboardingComplete, accessOverride, timeZone, userType
        case buildGoal, experienceLevel, skillLevel, learningStyle, weeklyHours, lastLoginAt, createdAt, pendingEmail
    }

    func encode(to encoder: any Encoder) throws {
        var fields = encoder.container(keyedBy: Key.self)
        try fields.encode(user.id.lowercased, forKey: .id)
        for (key, text) in [(Key.email, user.email), (.name, user.name), (.role, user.role)] { try fields.encode(text, forKey: key) }
        let flags: [(Key, Bool)] = [
            (.emailVerified, user.emailVerified), (.marketingOptOut, user.marketingOptOut), (.onboardingComplete, user.onboardingComplete),
            (.accessOverride, user.accessOverride),
        ]
        for (key, flag) in flags { try fields.encode(flag, forKey: key) }
        let texts: [(Key, String?)] = [
            (.timeZone, user.timeZone), (.userType, user.userType), (.buildGoal, user.buildGoal), (.experienceLevel, user.experienceLevel),
            (.skillLevel, user.skillLevel), (.learningStyle, user.learningStyle), (.pendingEmail, user.pendingEmail),
        ]
        for (key, text) in texts { try fields.encodeIfPresent(text, forKey: key) }
        try fields.encodeIfPresent(user.weeklyHours, forKey: .weeklyHours)
        try fields.encodeIfPresent(user.lastLoginAt, forKey: .lastLoginAt)
        try fields.encode(user.createdAt, forKey: .createdAt)
    }
}

extension IdentitySettings {
    /// The client's address of a request: the peer, or what a trusted proxy says.
    func clientAddress(_ request: Request, _ context: ServiceRequestContext) -> String {
        clientAddresses.resolve(
            peer: context.remoteAddress?.ipAddress, forwardedFor: request.headers[values: .init("X-Forwarded-For")!])
    }
}
