import Contracts
import Foundation
import ServiceKit

/// A person's own account: signing up, proving their address, their profile (and a change of
/// address, with the way back), and leaving.
struct Accounts: Sendable {
    let users: UserRepository
    let signIn: SignIn
    let limits: AttemptLimits
    let settings: IdentitySettings

    /// Creates the account with its first session; the verification link is mailed.
    func register(email: String?, password: String?, name: String?, from address: String) async throws -> SignedIn {
        let registration = try Registration.validate(email: email, password: password, name: name).get()
        try await limits.reserve("register", from: address, now: Date())
        let hash = try await limits.hash(registration.password)
        let refresh = TokenIssuer.newRefreshToken()
        let now = Date()
        let settings = self.settings
        let user = try await users.register(
            id: UUIDv7.make(at: now), email: registration.email, name: registration.name, passwordHash: hash,
            refreshTokenHash: refresh.hash, verification: .make(lifetime: settings.verificationLifetime, now: now),
            verificationURL: settings.verificationURL, now: now)
        return try await signIn.signedIn(user, refreshToken: refresh.token, now: now)
    }

    /// Follows a verification link.
    func verifyEmail(token: String?) async throws -> User {
        let token = try PresentedToken.linkToken(token)
        return try await users.verifyEmail(tokenHash: TokenIssuer.hash(refreshToken: token), now: Date())
    }

    /// Mails a new verification link (for a pending new address, or an unverified one).
    func resendVerification(_ userID: UUID, from address: String) async throws {
        let now = Date()
        try await limits.reserve("verify-email-resend", from: address, now: now)
        let token = OneTimeToken.make(lifetime: settings.verificationLifetime, now: now)
        try await users.resendVerification(userID, token: token, link: settings.verificationURL(token.token), now: now)
    }

    func profile(_ userID: UUID) async throws -> User {
        guard let user = try await users.user(userID) else { throw DomainError.userNotFound }
        return user
    }

    /// Changes the caller's profile. A new address is checked first (`EmailChangeStep`): the
    /// current password, with the sign-in limits, then links to the new and the old address.
    func updateProfile(_ userID: UUID, change: ProfileChange, from address: String) async throws -> User {
        var errors = change.validate()
        let now = Date()
        let settings = self.settings
        let email = change.requestedEmail
        let current = try await profile(userID)
        var emailChange: EmailChange?
        switch EmailChangeStep.decide(
            requested: email, currentEmail: current.email, currentPassword: change.currentPassword,
            hasPassword: current.passwordHash != nil, otherErrors: !errors.isEmpty)
        {
        case .none, .waitForValidFields:
            break
        case .passwordMissing:
            errors.append(EmailChangeStep.passwordRequired)
        case .passwordNotSet:
            throw DomainError.passwordNotSet
        case .checkPassword(let password):
            guard try await limits.checkPassword(password, email: current.email, hash: current.passwordHash, from: address, now: now) else {
                throw DomainError.invalidPassword
            }
            let verification = OneTimeToken.make(lifetime: settings.verificationLifetime, now: now)
            let revert = OneTimeToken.make(lifetime: settings.revertLifetime, now: now)
            emailChange = EmailChange(
                newEmail: email ?? "", verification: verification, verificationLink: settings.verificationURL(verification.token),
                revert: revert, revertLink: settings.revertURL(revert.token))
        }
        guard errors.isEmpty else { throw DomainError.validation(errors) }
        return try await users.updateProfile(userID, now: now, change: change, email: email, emailChange: emailChange)
    }

    /// Deletes the caller's own account (not the last admin's).
    func delete(_ userID: UUID) async throws {
        try await users.delete(userID, by: "self", now: Date())
    }

    /// Whether the link mailed to the old address after an email change can still be used.
    func revertLink(token: String?) async throws -> (email: String, expiresAt: Date) {
        let token = try PresentedToken.linkToken(token)
        guard let link = try await users.revertLink(tokenHash: TokenIssuer.hash(refreshToken: token), now: Date()) else {
            throw DomainError.invalidLink
        }
        return link
    }

    /// Takes the account back to the old address (see `UserRepository.revertEmail`).
    func revertEmail(token: String?) async throws -> User {
        let token = try PresentedToken.linkToken(token)
        let now = Date()
        return try await users.revertEmail(
            tokenHash: TokenIssuer.hash(refreshToken: token), reset: .make(lifetime: settings.resetLifetime, now: now),
            resetURL: settings.resetURL, now: now)
    }
}
