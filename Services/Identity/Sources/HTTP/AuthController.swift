import Contracts
import Foundation
import Hummingbird
import NIOCore
import ServiceKit

extension IdentitySettings {
    /// The client's address of a request.
    func clientAddress(_ request: Request, _ context: ServiceRequestContext) -> String {
        clientAddresses.resolve(
            peer: context.remoteAddress?.ipAddress, forwardedFor: request.headers[values: .init("X-Forwarded-For")!])
    }
}

/// `/v1/auth/…`: accounts, sign-in and tokens, over the `Accounts` use cases.
struct AuthController: Sendable {
    typealias Context = ServiceRequestContext
    let accounts: Accounts

    var settings: IdentitySettings { accounts.settings }

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
        let jwks = accounts.tokens.jwks
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

    struct AuthBody: Encodable, Sendable {
        var user: UserBody
        var accessToken: String
        var refreshToken: String
        var expiresIn: Int

        init(_ session: Accounts.Session) {
            user = UserBody(session.user)
            accessToken = session.accessToken
            refreshToken = session.refreshToken
            expiresIn = Int(TokenIssuer.accessTokenLifetime)
        }
    }

    @Sendable func register(_ request: Request, context: Context) async throws -> JSONResponse<AuthBody> {
        let input = try await request.decode(as: RegisterRequest.self, context: context)
        let session = try await accounts.register(
            email: input.email, password: input.password, name: input.name, client: settings.clientAddress(request, context), now: Date())
        return JSONResponse(.created, AuthBody(session))
    }

    struct LoginRequest: Decodable {
        var email: String?
        var password: String?
    }

    @Sendable func login(_ request: Request, context: Context) async throws -> JSONResponse<AuthBody> {
        let input = try await request.decode(as: LoginRequest.self, context: context)
        let session = try await accounts.signIn(
            email: input.email, password: input.password, client: settings.clientAddress(request, context), now: Date())
        return JSONResponse(.ok, AuthBody(session))
    }

    struct RefreshRequest: Decodable {
        var refreshToken: String?
    }

    func refreshToken(_ request: Request, _ context: Context) async throws -> String {
        let input = try await request.decode(as: RefreshRequest.self, context: context)
        guard let token = input.refreshToken, !token.isEmpty, token.count <= 200 else {
            throw Problem.validation([FieldError(field: "refreshToken", code: "required", message: "A refresh token is required.")])
        }
        return token
    }

    @Sendable func refresh(_ request: Request, context: Context) async throws -> JSONResponse<AuthBody> {
        JSONResponse(.ok, AuthBody(try await accounts.refresh(try await refreshToken(request, context), now: Date())))
    }

    @Sendable func logout(_ request: Request, context: Context) async throws -> Response {
        try await accounts.signOut(try await refreshToken(request, context), now: Date())
        return Response(status: .noContent)
    }

    @Sendable func logoutAll(_ request: Request, context: Context) async throws -> JSONResponse<[String: Int]> {
        JSONResponse(.ok, ["sessionsEnded": try await accounts.signOutEverywhere(try context.user.id, now: Date())])
    }

    struct TokenRequest: Decodable {
        var token: String?
    }

    func oneTimeToken(_ request: Request, _ context: Context) async throws -> String {
        var token = request.uri.queryParameters.get("token")
        if token == nil, request.method == .post {
            token = try await request.decode(as: TokenRequest.self, context: context).token
        }
        guard let token, !token.isEmpty, token.count <= 200 else {
            throw Problem.validation([FieldError(field: "token", code: "required", message: "The link's token is required.")])
        }
        return token
    }

    @Sendable func verifyEmail(_ request: Request, context: Context) async throws -> JSONResponse<UserBody> {
        JSONResponse(.ok, UserBody(try await accounts.verifyEmail(token: try await oneTimeToken(request, context), now: Date())))
    }

    @Sendable func resendVerification(_ request: Request, context: Context) async throws -> Response {
        try await accounts.resendVerification(to: try context.user.id, client: settings.clientAddress(request, context), now: Date())
        return Response(status: .accepted)
    }

    struct ResetRequest: Decodable {
        var email: String?
    }

    /// Always 202: whether an account exists is not revealed.
    @Sendable func requestReset(_ request: Request, context: Context) async throws -> Response {
        let input = try await request.decode(as: ResetRequest.self, context: context)
        try await accounts.requestPasswordReset(email: input.email, client: settings.clientAddress(request, context), now: Date())
        return Response(status: .accepted)
    }

    struct ResetLinkState: Encodable, Sendable {
        var valid: Bool
        var expiresAt: Date
    }

    /// What a page opened from the mailed link asks first: can this link still be used?
    @Sendable func checkReset(_ request: Request, context: Context) async throws -> JSONResponse<ResetLinkState> {
        let expiry = try await accounts.resetLinkExpiry(token: try await oneTimeToken(request, context), now: Date())
        return JSONResponse(.ok, ResetLinkState(valid: true, expiresAt: expiry))
    }

    struct ConfirmResetRequest: Decodable {
        var token: String?
        var password: String?
    }

    @Sendable func confirmReset(_ request: Request, context: Context) async throws -> Response {
        var input = try await request.decode(as: ConfirmResetRequest.self, context: context)
        if input.token == nil { input.token = request.uri.queryParameters.get("token") }
        try await accounts.resetPassword(token: input.token, password: input.password, now: Date())
        return Response(status: .noContent)
    }

    struct RevertLinkState: Encodable, Sendable {
        var valid: Bool
        var email: String
        var expiresAt: Date
    }

    /// What a page opened from the link mailed to the old address asks first.
    @Sendable func checkRevert(_ request: Request, context: Context) async throws -> JSONResponse<RevertLinkState> {
        let link = try await accounts.revertLink(token: try await oneTimeToken(request, context), now: Date())
        return JSONResponse(.ok, RevertLinkState(valid: true, email: link.email, expiresAt: link.expiresAt))
    }

    @Sendable func revertEmail(_ request: Request, context: Context) async throws -> JSONResponse<UserBody> {
        JSONResponse(.ok, UserBody(try await accounts.revertEmail(token: try await oneTimeToken(request, context), now: Date())))
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
