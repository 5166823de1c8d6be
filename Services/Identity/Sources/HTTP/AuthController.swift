import Foundation
import Hummingbird
import NIOCore
import ServiceKit

/// `/v1/auth/…`: accounts, sign-in and tokens.
struct AuthController: Sendable {
    typealias Context = ServiceRequestContext
    let signIn: SignIn
    let accounts: Accounts
    let passwordReset: PasswordReset
    let tokens: TokenIssuer
    let settings: IdentitySettings

    func add(to routes: RouteGroups) {
        routes.open.post("/v1/auth/register", use: register)
        routes.open.post("/v1/auth/login", use: login)
        routes.open.post("/v1/auth/refresh", use: refresh)
        routes.open.post("/v1/auth/logout", use: logout)
        routes.learner.post("/v1/auth/logout-all", use: logoutAll)
        routes.open.get("/v1/auth/verify-email", use: verifyEmail)
        routes.open.post("/v1/auth/verify-email", use: verifyEmail)
        routes.learner.post("/v1/auth/verify-email/resend", use: resendVerification)
        routes.open.post("/v1/auth/password-reset", use: requestReset)
        routes.open.get("/v1/auth/password-reset/confirm", use: checkReset)
        routes.open.post("/v1/auth/password-reset/confirm", use: confirmReset)
        routes.open.get("/v1/auth/email-change/revert", use: checkRevert)
        routes.open.post("/v1/auth/email-change/revert", use: revertEmail)
        let jwks = tokens.jwks
        routes.open.get("/.well-known/jwks.json") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json", .cacheControl: "public, max-age=300"],
                body: .init(byteBuffer: ByteBuffer(string: jwks)))
        }
    }

    struct RegisterRequest: Decodable {
        var email: String?
        var password: String?
        var name: String?
    }

    @Sendable func register(_ request: Request, context: Context) async throws -> JSONResponse<AuthBody> {
        let input = try await request.decode(as: RegisterRequest.self, context: context)
        let session = try await accounts.register(
            email: input.email, password: input.password, name: input.name, from: settings.clientAddress(request, context))
        return JSONResponse(.created, AuthBody(session))
    }

    struct LoginRequest: Decodable {
        var email: String?
        var password: String?
    }

    @Sendable func login(_ request: Request, context: Context) async throws -> JSONResponse<AuthBody> {
        let input = try await request.decode(as: LoginRequest.self, context: context)
        let session = try await signIn.login(email: input.email, password: input.password, from: settings.clientAddress(request, context))
        return JSONResponse(.ok, AuthBody(session))
    }

    struct RefreshRequest: Decodable {
        var refreshToken: String?
    }

    @Sendable func refresh(_ request: Request, context: Context) async throws -> JSONResponse<AuthBody> {
        let input = try await request.decode(as: RefreshRequest.self, context: context)
        return JSONResponse(.ok, AuthBody(try await signIn.refresh(input.refreshToken)))
    }

    @Sendable func logout(_ request: Request, context: Context) async throws -> Response {
        let input = try await request.decode(as: RefreshRequest.self, context: context)
        try await signIn.logout(input.refreshToken)
        return Response(status: .noContent)
    }

    @Sendable func logoutAll(_ request: Request, context: Context) async throws -> JSONResponse<[String: Int]> {
        let caller = try context.user
        return JSONResponse(.ok, ["sessionsEnded": try await signIn.logoutAll(caller.id)])
    }

    struct TokenRequest: Decodable {
        var token: String?
    }

    /// A link's token: in the query (a link followed), or in the body of a POST.
    func linkToken(_ request: Request, _ context: Context) async throws -> String? {
        if let token = request.uri.queryParameters.get("token") { return token }
        guard request.method == .post else { return nil }
        return try await request.decode(as: TokenRequest.self, context: context).token
    }

    @Sendable func verifyEmail(_ request: Request, context: Context) async throws -> JSONResponse<UserBody> {
        JSONResponse(.ok, UserBody(try await accounts.verifyEmail(token: try await linkToken(request, context))))
    }

    @Sendable func resendVerification(_ request: Request, context: Context) async throws -> Response {
        let caller = try context.user
        try await accounts.resendVerification(caller.id, from: settings.clientAddress(request, context))
        return Response(status: .accepted)
    }

    struct ResetRequest: Decodable {
        var email: String?
    }

    /// Always 202: whether an account exists is not revealed.
    @Sendable func requestReset(_ request: Request, context: Context) async throws -> Response {
        let input = try await request.decode(as: ResetRequest.self, context: context)
        try await passwordReset.request(email: input.email, from: settings.clientAddress(request, context))
        return Response(status: .accepted)
    }

    struct ResetLinkState: Encodable, Sendable {
        var valid: Bool
        var expiresAt: Date
    }

    /// What a page opened from the mailed link asks first: can this link still be used?
    @Sendable func checkReset(_ request: Request, context: Context) async throws -> JSONResponse<ResetLinkState> {
        let expiry = try await passwordReset.expiry(token: try await linkToken(request, context))
        return JSONResponse(.ok, ResetLinkState(valid: true, expiresAt: expiry))
    }

    struct ConfirmResetRequest: Decodable {
        var token: String?
        var password: String?
    }

    @Sendable func confirmReset(_ request: Request, context: Context) async throws -> Response {
        let input = try await request.decode(as: ConfirmResetRequest.self, context: context)
        try await passwordReset.confirm(token: input.token ?? request.uri.queryParameters.get("token"), password: input.password)
        return Response(status: .noContent)
    }

    struct RevertLinkState: Encodable, Sendable {
        var valid: Bool
        var email: String
        var expiresAt: Date
    }

    /// What a page opened from the link mailed to the old address asks first.
    @Sendable func checkRevert(_ request: Request, context: Context) async throws -> JSONResponse<RevertLinkState> {
        let link = try await accounts.revertLink(token: try await linkToken(request, context))
        return JSONResponse(.ok, RevertLinkState(valid: true, email: link.email, expiresAt: link.expiresAt))
    }

    /// Takes the account back to the old address.
    @Sendable func revertEmail(_ request: Request, context: Context) async throws -> JSONResponse<UserBody> {
        JSONResponse(.ok, UserBody(try await accounts.revertEmail(token: try await linkToken(request, context))))
    }
}
