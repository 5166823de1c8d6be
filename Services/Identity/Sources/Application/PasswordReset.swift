import Foundation
import ServiceKit

/// A forgotten password: a link mailed on request, checked, and used once for a new password.
struct PasswordReset: Sendable {
    let users: UserRepository
    let limits: AttemptLimits
    let settings: IdentitySettings

    /// Mails a link when the account exists; whether it does is never revealed.
    func request(email: String?, from address: String) async throws {
        let email = try PresentedToken.resetEmail(email)
        let now = Date()
        try await limits.reserve("password-reset", from: address, now: now)
        // At most three links an hour per email address; asking costs the same whether or not the
        // account exists, and the answer never says.
        let mayMail = (try? await limits.counters.reserve([settings.throttle.resetLinks(email: email)], now: now)) != nil
        if mayMail, let user = try await users.user(email: email) {
            let token = OneTimeToken.make(lifetime: settings.resetLifetime, now: now)
            try await users.requestPasswordReset(userID: user.id, token: token, link: settings.resetURL(token.token), now: now)
        }
    }

    /// Until when a link can still be used (asking does not use it up).
    func expiry(token: String?) async throws -> Date {
        let token = try PresentedToken.linkToken(token)
        guard let expiry = try await users.resetLinkExpiry(tokenHash: TokenIssuer.hash(refreshToken: token), now: Date()) else {
            throw DomainError.invalidLink
        }
        return expiry
    }

    /// Sets the new password of a link and ends every session.
    func confirm(token: String?, password: String?) async throws {
        let (token, password) = try PresentedToken.passwordReset(token: token, password: password)
        // The link is taken before bcrypt runs: a made-up or used token costs no hashing.
        let tokenHash = TokenIssuer.hash(refreshToken: token)
        let now = Date()
        let userID = try await users.claimResetLink(tokenHash: tokenHash, now: now)
        let hash: String
        do {
            hash = try await limits.hash(password)
        } catch {
            // Not the holder's fault: the link works again.
            try? await users.unclaimResetLink(tokenHash: tokenHash, claimedAt: now)
            throw error
        }
        try await users.resetPassword(userID: userID, passwordHash: hash, now: now)
    }
}
