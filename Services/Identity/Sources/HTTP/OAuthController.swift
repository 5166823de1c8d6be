import Contracts
import Foundation
import Hummingbird
import ServiceKit

/// `/v1/auth/oauth/{provider}/…`: sign-in with an OAuth 2.0 / OpenID Connect provider.
struct OAuthController: Sendable {
    typealias Context = ServiceRequestContext
    let users: UserRepository
    let accounts: Accounts
    let providers: [String: OAuthProvider]

    func add(to routes: RouteGroups) {
        routes.open.get("/v1/auth/oauth/:provider/start", use: start)
        routes.open.get("/v1/auth/oauth/:provider/callback", use: callback)
    }

    func provider(_ context: Context) throws -> OAuthProvider {
        guard let name = context.parameters.get("provider"), let provider = providers[name] else {
            throw Problem(.notFound, code: "unknown_provider", title: "No such sign-in provider")
        }
        return provider
    }

    /// Redirects to the provider with a fresh `state` and PKCE challenge.
    @Sendable func start(_ request: Request, context: Context) async throws -> Response {
        let provider = try provider(context)
        try await accounts.reserveAction("oauth-start", client: accounts.settings.clientAddress(request, context), now: Date())
        let state = TokenIssuer.newRefreshToken().token
        let pkce = OAuthProvider.pkce()
        try await users.saveOAuthState(state, provider: provider.name, verifier: pkce.verifier, now: Date())
        return Response(status: .found, headers: [.location: provider.authorizationURL(state: state, challenge: pkce.challenge), .cacheControl: "no-store"])
    }

    /// The provider sends the browser back here with a code: exchange it, find or make the user,
    /// and answer like a sign-in.
    @Sendable func callback(_ request: Request, context: Context) async throws -> JSONResponse<AuthController.AuthBody> {
        let provider = try provider(context)
        let query = request.uri.queryParameters
        if let error = query.get("error") {
            throw Problem(.badRequest, code: "oauth_denied", title: "The provider did not sign you in", detail: String(error.prefix(200)))
        }
        guard let code = query.get("code"), !code.isEmpty, let state = query.get("state"), !state.isEmpty else {
            throw Problem.validation([FieldError(field: "code", code: "required", message: "The provider's code and state are required.")])
        }
        let now = Date()
        guard let verifier = try await users.takeOAuthState(state, provider: provider.name, now: now) else {
            throw Problem(.badRequest, code: "invalid_state", title: "This sign-in expired or was used already; start again")
        }
        let identity: OAuthProvider.Identity
        do {
            identity = try await provider.identity(code: code, verifier: verifier)
        } catch {
            context.logger.warning("oauth exchange failed", metadata: ["provider": "\(provider.name)", "error": "\(error)"])
            throw Problem(.badGateway, code: "oauth_provider_error", title: "The sign-in provider did not answer as expected")
        }
        switch try await users.resolve(identity, provider: provider.name, now: now) {
        case .cannotLink:
            throw Problem(
                .conflict, code: "account_exists",
                title: "An account with this email exists; sign in with your password and verify your email to link this provider")
        case .unverifiedEmail:
            throw Problem(
                .forbidden, code: "email_unverified_at_provider",
                title: "Your address is not verified at this provider; verify it there, or sign up with a password")
        case .signedIn(let userID):
            return JSONResponse(.ok, AuthController.AuthBody(try await accounts.signedIn(userID, provider: provider.name, now: now)))
        }
    }
}
