import Foundation
import Logging
import ServiceKit

/// Sign-in with an OAuth 2.0 / OpenID Connect provider: a redirect with `state` and PKCE, then
/// the provider's code exchanged for who the user is, and a session.
struct OAuthSignIn: Sendable {
    let users: UserRepository
    let signIn: SignIn
    let limits: AttemptLimits
    let providers: [String: OAuthProvider]

    func provider(_ name: String?) throws -> OAuthProvider {
        guard let name, let provider = providers[name] else { throw DomainError.unknownProvider }
        return provider
    }

    /// Where to send the browser, with a fresh `state` and PKCE challenge remembered.
    func start(provider name: String?, from address: String) async throws -> String {
        let provider = try provider(name)
        try await limits.reserve("oauth-start", from: address, now: Date())
        let state = TokenIssuer.newRefreshToken().token
        let pkce = OAuthProvider.pkce()
        try await users.saveOAuthState(state, provider: provider.name, verifier: pkce.verifier, now: Date())
        return provider.authorizationURL(state: state, challenge: pkce.challenge)
    }

    /// The provider sent the browser back (with a code, or an error): exchange the code, find or
    /// make the user, and sign them in.
    /// `logger` is the request's, so what is logged carries its id.
    func complete(provider name: String?, code: String?, state: String?, error: String?, logger: Logger) async throws -> SignedIn {
        let provider = try provider(name)
        if let error { throw DomainError.oauthDenied(error) }
        guard let code, !code.isEmpty, let state, !state.isEmpty else {
            throw DomainError.validation([FieldError(field: "code", code: "required", message: "The provider's code and state are required.")])
        }
        let now = Date()
        guard let verifier = try await users.takeOAuthState(state, provider: provider.name, now: now) else {
            throw DomainError.invalidOAuthState
        }
        let identity: OAuthProvider.Identity
        do {
            identity = try await provider.identity(code: code, verifier: verifier)
        } catch {
            logger.warning("oauth exchange failed", metadata: ["provider": "\(provider.name)", "error": "\(error)"])
            throw DomainError.oauthProviderFailed
        }
        switch try await users.resolve(identity, provider: provider.name, now: now) {
        case .cannotLink: throw DomainError.accountExists
        case .unverifiedEmail: throw DomainError.emailUnverifiedAtProvider
        case .signedIn(let userID): return try await signIn.startSession(userID, method: "oauth", provider: provider.name, now: now)
        }
    }
}
