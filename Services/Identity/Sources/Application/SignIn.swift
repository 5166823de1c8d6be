import Foundation
import ServiceKit

/// A session as handed to the client: the user, a short-lived access token and the refresh
/// token that renews it.
public struct SignedIn: Sendable {
    public var user: User
    public var accessToken: String
    public var refreshToken: String
    public var expiresIn: Int
}

/// Sign-in by password, and the life of a session: renewing, ending one, ending all.
struct SignIn: Sendable {
    let users: UserRepository
    let tokens: TokenIssuer
    let limits: AttemptLimits

    /// The tokens of a session that was just made with `refreshToken`.
    func signedIn(_ user: User, refreshToken: String, now: Date) async throws -> SignedIn {
        SignedIn(
            user: user, accessToken: try await tokens.accessToken(userID: user.id, role: user.role, now: now),
            refreshToken: refreshToken, expiresIn: Int(TokenIssuer.accessTokenLifetime))
    }

    /// A new session for a user who has shown who they are (`method`: password or oauth).
    func startSession(_ userID: UUID, method: String, provider: String? = nil, now: Date) async throws -> SignedIn {
        let refresh = TokenIssuer.newRefreshToken()
        let user = try await users.signedIn(userID, refreshTokenHash: refresh.hash, method: method, provider: provider, now: now)
        return try await signedIn(user, refreshToken: refresh.token, now: now)
    }

    func login(email: String?, password: String?, from address: String) async throws -> SignedIn {
        let credentials = try Credentials.validate(email: email, password: password)
        let now = Date()
        let user = try await users.user(email: credentials.email)
        let matches = try await limits.checkPassword(
            credentials.password, email: credentials.email, hash: user?.passwordHash, from: address, now: now)
        guard let user, matches else { throw DomainError.invalidCredentials }
        return try await startSession(user.id, method: "password", now: now)
    }

    /// Exchanges a refresh token for a new one (see `SessionRotation`).
    func refresh(_ token: String?) async throws -> SignedIn {
        let token = try PresentedToken.refreshToken(token)
        let next = TokenIssuer.newRefreshToken()
        let now = Date()
        let user = try await users.rotate(refreshTokenHash: TokenIssuer.hash(refreshToken: token), newHash: next.hash, now: now)
        return try await signedIn(user, refreshToken: next.token, now: now)
    }

    /// Ends the session of a refresh token, if it still runs.
    func logout(_ token: String?) async throws {
        let token = try PresentedToken.refreshToken(token)
        _ = try await users.revoke(refreshTokenHash: TokenIssuer.hash(refreshToken: token), now: Date())
    }

    /// Ends every session of the caller; how many there were.
    func logoutAll(_ userID: UUID) async throws -> Int {
        try await users.revokeAll(userID: userID, now: Date())
    }
}
