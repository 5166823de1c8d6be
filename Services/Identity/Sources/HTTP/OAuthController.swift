import Foundation
import Hummingbird
import ServiceKit

/// `/v1/auth/oauth/{provider}/…`: sign-in with an OAuth 2.0 / OpenID Connect provider.
struct OAuthController: Sendable {
    typealias Context = ServiceRequestContext
    let oauth: OAuthSignIn
    let settings: IdentitySettings

    func add(to routes: RouteGroups) {
        routes.open.get("/v1/auth/oauth/{provider}/start", use: start)
        routes.open.get("/v1/auth/oauth/{provider}/callback", use: callback)
    }

    /// Redirects to the provider.
    @Sendable func start(_ request: Request, context: Context) async throws -> Response {
        let location = try await oauth.start(provider: context.parameters.get("provider"), from: settings.clientAddress(request, context))
        return Response(status: .found, headers: [.location: location, .cacheControl: "no-store"])
    }

    /// The provider sends the browser back here with a code: answered like a sign-in.
    @Sendable func callback(_ request: Request, context: Context) async throws -> JSONResponse<AuthBody> {
        let query = request.uri.queryParameters
        let session = try await oauth.complete(
            provider: context.parameters.get("provider"), code: query.get("code"), state: query.get("state"), error: query.get("error"),
            logger: context.logger)
        return JSONResponse(.ok, AuthBody(session))
    }
}
