import Contracts
import Foundation
import ServiceKit

/// Identity's use cases of accounts and sessions: signing up and in, refreshing and ending
/// sessions, and the mailed links (verification, password reset, email-change revert). Each
/// takes plain values — the client's address for the attempt limits, `now` — and either answers
/// or throws a `DomainError`; the HTTP layer only decodes and encodes. The limits are reserved
/// before any work that costs (bcrypt, mail), and bcrypt runs on a bounded pool.
struct Accounts: Sendable {
    let users: UserRepository
    let hasher: PasswordHasher
    let tokens: TokenIssuer
    let settings: IdentitySettings
    let counters: AttemptCounters
    /// A hash to check passwords against when the account does not exist, so that a wrong email
    /// costs as long as a wrong password.
    let decoyHash: String

    /// A signed-in user with fresh tokens.
    struct Session: Sendable {
        var user: User
        var accessToken: String
        var refreshToken: String
    }

    func session(_ user: User, refreshToken: String, now: Date) async throws -> Session {
        Session(user: user, accessToken: try await tokens.accessToken(userID: user.id, role: user.role, now: now), refreshToken: refreshToken)
    }

    // MARK: Limits

    /// Reserves one attempt against `keys`, or refuses with `too_many_attempts` and when to try again.
    func reserve(_ keys: [AttemptKey], now: Date, title: String = "Too many attempts; try again later") async throws -> AttemptCounters.Reservation {
        do {
            return try await counters.reserve(keys, now: now)
        } catch let refused as AttemptCounters.Refused {
            throw IdentityErrors.tooManyAttempts(refused.retryAfter, title: title)
        }
    }

    /// One attempt of `action` from `client`.
    func reserveAction(_ action: String, client: String, now: Date) async throws {
        _ = try await reserve([settings.throttle.action(action, address: client)], now: now)
    }

    /// Hashes or verifies on the bounded pool: `busy` when its queue is full.
    func hashing<T: Sendable>(_ work: () async throws -> T) async throws -> T {
        do {
            return try await work()
        } catch is PasswordHasher.Busy {
            throw IdentityErrors.busy
        }
    }

    // MARK: Signing up and in

    func register(email: String?, password: String?, name: String?, client: String, now: Date) async throws -> Session {
        let registration = try Registration.validate(email: email, password: password, name: name).get()
        try await reserveAction("register", client: client, now: now)
        let hash = try await hashing { try await hasher.hash(registration.password) }
        let refresh = TokenIssuer.newRefreshToken()
        let settings = self.settings
        do {
            let user = try await users.register(
                id: UUIDv7.make(at: now), email: registration.email, name: registration.name, passwordHash: hash,
                refreshTokenHash: refresh.hash, verification: .make(lifetime: settings.verificationLifetime, now: now),
                verificationURL: settings.verificationURL, now: now)
            return try await session(user, refreshToken: refresh.token, now: now)
        } catch IdentityError.emailTaken {
            throw IdentityErrors.emailTaken
        }
    }

    /// Checks a user's password with the sign-in limits: the attempt is reserved before bcrypt
    /// runs, and given back when the password was right (clearing the account-and-address
    /// counter: the owner has shown who they are from there). Refused when a limit is reached;
    /// `busy` when the hashing queue is full (the attempt is given back too).
    func checkPassword(_ password: String, email: String, hash: String?, client: String, now: Date) async throws -> Bool {
        let keys = settings.throttle.signIn(email: email, address: client)
        let reservation = try await reserve(keys, now: now, title: "Too many sign-in attempts; try again later")
        let matches: Bool
        do {
            // Always one bcrypt check, so an unknown email answers as slowly as a wrong password.
            matches = try await hasher.verify(password, hash: hash ?? decoyHash)
        } catch {
            try? await counters.release(reservation)
            if error is PasswordHasher.Busy { throw IdentityErrors.busy }
            throw error
        }
        guard matches, hash != nil else { return false }
        try await counters.release(reservation, clearing: [keys[0].key])
        return true
    }

    func signIn(email rawEmail: String?, password rawPassword: String?, client: String, now: Date) async throws -> Session {
        let email = (rawEmail ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let password = rawPassword ?? ""
        var errors: [FieldError] = []
        if email.isEmpty { errors.append(FieldError(field: "email", code: "required", message: "An email address is required.")) }
        if password.isEmpty { errors.append(FieldError(field: "password", code: "required", message: "A password is required.")) }
        guard errors.isEmpty else { throw DomainError.validation(errors) }
        let user = try await users.user(email: email)
        let matches = try await checkPassword(password, email: email, hash: user?.passwordHash, client: client, now: now)
        guard let user, matches else {
            throw DomainError(.unauthenticated, code: "invalid_credentials", title: "The email or the password is wrong")
        }
        let refresh = TokenIssuer.newRefreshToken()
        let signedIn = try await users.signedIn(user.id, refreshTokenHash: refresh.hash, method: "password", now: now)
        return try await session(signedIn, refreshToken: refresh.token, now: now)
    }

    /// A sign-in through an OAuth provider that identity has resolved to `userID`.
    func signedIn(_ userID: UUID, provider: String, now: Date) async throws -> Session {
        let refresh = TokenIssuer.newRefreshToken()
        let user = try await users.signedIn(userID, refreshTokenHash: refresh.hash, method: "oauth", provider: provider, now: now)
        return try await session(user, refreshToken: refresh.token, now: now)
    }

    // MARK: Sessions

    /// Rotates a refresh token. A token used twice ends its whole session: one of the two users
    /// of it is not its owner.
    func refresh(_ token: String, now: Date) async throws -> Session {
        let next = TokenIssuer.newRefreshToken()
        do {
            let user = try await users.rotate(refreshTokenHash: TokenIssuer.hash(refreshToken: token), newHash: next.hash, now: now)
            return try await session(user, refreshToken: next.token, now: now)
        } catch IdentityError.refreshTokenReused {
            throw DomainError(
                .unauthenticated, code: "refresh_token_reused",
                title: "This refresh token was used already; the session has been ended for safety")
        } catch IdentityError.invalidRefreshToken {
            throw DomainError(.unauthenticated, code: "invalid_refresh_token", title: "The refresh token is not valid")
        }
    }

    func signOut(_ token: String, now: Date) async throws {
        _ = try await users.revoke(refreshTokenHash: TokenIssuer.hash(refreshToken: token), now: now)
    }

    /// Ends every session of the user; answers how many.
    func signOutEverywhere(_ user: UUID, now: Date) async throws -> Int {
        try await users.revokeAll(userID: user, now: now)
    }

    // MARK: Links

    func verifyEmail(token: String, now: Date) async throws -> User {
        do {
            return try await users.verifyEmail(tokenHash: TokenIssuer.hash(refreshToken: token), now: now)
        } catch IdentityError.invalidOneTimeToken {
            throw IdentityErrors.invalidLink
        } catch IdentityError.emailTaken {
            throw IdentityErrors.emailTaken
        }
    }

    func resendVerification(to user: UUID, client: String, now: Date) async throws {
        try await reserveAction("verify-email-resend", client: client, now: now)
        do {
            try await users.resendVerification(user, token: .make(lifetime: settings.verificationLifetime, now: now), settings: settings, now: now)
        } catch IdentityError.notFound {
            throw DomainError.notFound("user")
        }
    }

    /// Mails a reset link if the account exists. The caller learns nothing either way.
    func requestPasswordReset(email rawEmail: String?, client: String, now: Date) async throws {
        guard let email = rawEmail?.trimmingCharacters(in: .whitespacesAndNewlines), EmailAddress.isValid(email) else {
            throw DomainError.validation([FieldError(field: "email", code: "invalid_email", message: "This is not a valid email address.")])
        }
        try await reserveAction("password-reset", client: client, now: now)
        // At most three links an hour per email address; asking costs the same whether or not the
        // account exists, and the answer never says.
        let mayMail = (try? await counters.reserve([settings.throttle.resetLinks(email: email)], now: now)) != nil
        if mayMail, let user = try await users.user(email: email) {
            let token = OneTimeToken.make(lifetime: settings.resetLifetime, now: now)
            try await users.requestPasswordReset(userID: user.id, token: token, link: settings.resetURL(token.token), now: now)
        }
    }

    /// Until when a reset link can be used.
    func resetLinkExpiry(token: String, now: Date) async throws -> Date {
        guard let expiry = try await users.resetLinkExpiry(tokenHash: TokenIssuer.hash(refreshToken: token), now: now) else {
            throw IdentityErrors.invalidLink
        }
        return expiry
    }

    /// Sets a new password with a reset link's token. The link is taken before bcrypt runs: a
    /// made-up or used token costs no hashing.
    func resetPassword(token: String?, password: String?, now: Date) async throws {
        var errors: [FieldError] = []
        if (token ?? "").isEmpty { errors.append(FieldError(field: "token", code: "required", message: "The link's token is required.")) }
        if let error = Registration.passwordError(password) { errors.append(error) }
        guard errors.isEmpty, let token, let password else { throw DomainError.validation(errors) }
        let tokenHash = TokenIssuer.hash(refreshToken: token)
        let userID: UUID
        do {
            userID = try await users.claimResetLink(tokenHash: tokenHash, now: now)
        } catch IdentityError.invalidOneTimeToken {
            throw IdentityErrors.invalidLink
        }
        let hash: String
        do {
            hash = try await hasher.hash(password)
        } catch {
            // Not the holder's fault: the link works again.
            try? await users.unclaimResetLink(tokenHash: tokenHash, claimedAt: now)
            if error is PasswordHasher.Busy { throw IdentityErrors.busy }
            throw error
        }
        try await users.resetPassword(userID: userID, passwordHash: hash, now: now)
    }

    /// The address a revert link would give the account back, and until when it can be used.
    func revertLink(token: String, now: Date) async throws -> (email: String, expiresAt: Date) {
        guard let link = try await users.revertLink(tokenHash: TokenIssuer.hash(refreshToken: token), now: now) else {
            throw IdentityErrors.invalidLink
        }
        return link
    }

    /// Takes the account back to the old address (see `UserRepository.revertEmail`).
    func revertEmail(token: String, now: Date) async throws -> User {
        do {
            return try await users.revertEmail(
                tokenHash: TokenIssuer.hash(refreshToken: token), reset: .make(lifetime: settings.resetLifetime, now: now),
                resetURL: settings.resetURL, now: now)
        } catch IdentityError.invalidOneTimeToken {
            throw IdentityErrors.invalidLink
        } catch IdentityError.emailTaken {
            throw IdentityErrors.emailTaken
        }
    }
}

/// The refusals identity's use cases share.
enum IdentityErrors {
    /// Too many attempts of one kind; try again after `retryAfter` seconds.
    static func tooManyAttempts(_ retryAfter: Int, title: String = "Too many attempts; try again later") -> DomainError {
        DomainError(.tooMany, code: "too_many_attempts", title: title, retryAfter: retryAfter)
    }

    /// The password hashing queue is full.
    static let busy = DomainError(.unavailable, code: "busy", title: "Too many requests are being handled; try again in a moment", retryAfter: 2)

    static let emailTaken = DomainError(.conflict, code: "email_taken", title: "An account with this email already exists")

    /// A verification, reset or revert link that cannot be used (any more).
    static let invalidLink = DomainError(
        .malformed, code: "invalid_link", title: "This link is not valid",
        detail: "It was used already, has expired or was replaced by a newer one.")
}
