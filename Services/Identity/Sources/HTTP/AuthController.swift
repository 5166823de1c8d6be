import Contracts
import Foundation
import Hummingbird
import NIOCore
import ServiceKit

/// Identity's settings that shape its answers.
public struct IdentitySettings: Sendable {
    /// The address identity is reached at, for the links in mail.
    public var publicURL: String
    /// Trust `X-Forwarded-For` (only behind a gateway that sets it).
    public var trustForwardedFor: Bool
    public var verificationLifetime: TimeInterval = 48 * 3600
    public var resetLifetime: TimeInterval = 3600
    public var throttle = LoginThrottle()

    public init(publicURL: String, trustForwardedFor: Bool) {
        self.publicURL = publicURL.withoutTrailingSlash
        self.trustForwardedFor = trustForwardedFor
    }

    func verificationURL(_ token: String) -> String { "\(publicURL)/v1/auth/verify-email?token=\(token)" }
    func resetURL(_ token: String) -> String { "\(publicURL)/v1/auth/password-reset/confirm?token=\(token)" }
}

/// `/v1/auth/…`: accounts, sign-in and tokens.
struct AuthController: Sendable {
    typealias Context = IdentityRequestContext
    let users: UserRepository
    let hasher: PasswordHasher
    let tokens: TokenIssuer
    let verifier: TokenVerifier
    let settings: IdentitySettings
    /// A hash to check passwords against when the account does not exist, so that a wrong email
    /// costs as long as a wrong password.
    let decoyHash: String

    func add(to router: Router<Context>) {
        router.post("/v1/auth/register", use: register)
        router.post("/v1/auth/login", use: login)
        router.post("/v1/auth/refresh", use: refresh)
        router.post("/v1/auth/logout", use: logout)
        router.post("/v1/auth/logout-all", use: logoutAll)
        router.get("/v1/auth/verify-email", use: verifyEmail)
        router.post("/v1/auth/verify-email", use: verifyEmail)
        router.post("/v1/auth/verify-email/resend", use: resendVerification)
        router.post("/v1/auth/password-reset", use: requestReset)
        router.get("/v1/auth/password-reset/confirm", use: checkReset)
        router.post("/v1/auth/password-reset/confirm", use: confirmReset)
        router.get("/.well-known/jwks.json") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json", .cacheControl: "public, max-age=300"],
                body: .init(byteBuffer: ByteBuffer(string: tokens.jwks)))
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
    }

    func authBody(_ user: User, refreshToken: String, now: Date) async throws -> AuthBody {
        AuthBody(
            user: UserBody(user), accessToken: try await tokens.accessToken(userID: user.id, role: user.role, now: now),
            refreshToken: refreshToken, expiresIn: Int(TokenIssuer.accessTokenLifetime))
    }

    @Sendable func register(_ request: Request, context: Context) async throws -> JSONResponse<AuthBody> {
        let input = try await request.decode(as: RegisterRequest.self, context: context)
        let registration = try Registration.validate(email: input.email, password: input.password, name: input.name).get()
        let hash = try await hasher.hash(registration.password)
        let refresh = TokenIssuer.newRefreshToken()
        let now = Date()
        let settings = self.settings
        let user: User
        do {
            user = try await users.register(
                id: UUIDv7.make(at: now), email: registration.email, name: registration.name, passwordHash: hash,
                refreshTokenHash: refresh.hash, verification: .make(lifetime: settings.verificationLifetime, now: now),
                verificationURL: settings.verificationURL, now: now)
        } catch IdentityError.emailTaken {
            throw Problem(.conflict, code: "email_taken", title: "An account with this email already exists")
        }
        return JSONResponse(.created, try await authBody(user, refreshToken: refresh.token, now: now))
    }

    struct LoginRequest: Decodable {
        var email: String?
        var password: String?
    }

    func clientAddress(_ request: Request, _ context: Context) -> String {
        if settings.trustForwardedFor, let forwarded = request.headers[.init("X-Forwarded-For")!]?.split(separator: ",").first {
            return forwarded.trimmingCharacters(in: .whitespaces)
        }
        return context.remoteAddress?.ipAddress ?? "unknown"
    }

    @Sendable func login(_ request: Request, context: Context) async throws -> JSONResponse<AuthBody> {
        let input = try await request.decode(as: LoginRequest.self, context: context)
        let email = (input.email ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let password = input.password ?? ""
        var errors: [FieldError] = []
        if email.isEmpty { errors.append(FieldError(field: "email", code: "required", message: "An email address is required.")) }
        if password.isEmpty { errors.append(FieldError(field: "password", code: "required", message: "A password is required.")) }
        guard errors.isEmpty else { throw Problem.validation(errors) }
        let now = Date()
        let throttle = settings.throttle
        let keys = throttle.keys(email: email, address: clientAddress(request, context))
        let failures = try await users.recentFailures(keys: keys, since: now.addingTimeInterval(-throttle.window))
        if let wait = throttle.retryAfter(failures: failures, keys: keys, now: now) {
            throw Problem(
                .tooManyRequests, code: "too_many_attempts", title: "Too many failed sign-ins; try again later",
                headers: [.retryAfter: String(wait)])
        }
        let user = try await users.user(email: email)
        // Always one bcrypt check, so an unknown email answers as slowly as a wrong password.
        let matches = try await hasher.verify(password, hash: user?.passwordHash ?? decoyHash)
        guard let user, user.passwordHash != nil, matches else {
            try await users.recordFailure(keys: keys, now: now, pruneBefore: now.addingTimeInterval(-throttle.window))
            throw Problem(.unauthorized, code: "invalid_credentials", title: "The email or the password is wrong")
        }
        let refresh = TokenIssuer.newRefreshToken()
        let signedIn = try await users.signedIn(user.id, refreshTokenHash: refresh.hash, method: "password", now: now)
        try await users.recordSuccess(email: email)
        return JSONResponse(.ok, try await authBody(signedIn, refreshToken: refresh.token, now: now))
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
        let token = try await refreshToken(request, context)
        let next = TokenIssuer.newRefreshToken()
        let now = Date()
        do {
            let user = try await users.rotate(refreshTokenHash: TokenIssuer.hash(refreshToken: token), newHash: next.hash, now: now)
            return JSONResponse(.ok, try await authBody(user, refreshToken: next.token, now: now))
        } catch IdentityError.refreshTokenReused {
            throw Problem(
                .unauthorized, code: "refresh_token_reused",
                title: "This refresh token was used already; the session has been ended for safety")
        } catch IdentityError.invalidRefreshToken {
            throw Problem(.unauthorized, code: "invalid_refresh_token", title: "The refresh token is not valid")
        }
    }

    @Sendable func logout(_ request: Request, context: Context) async throws -> Response {
        let token = try await refreshToken(request, context)
        _ = try await users.revoke(refreshTokenHash: TokenIssuer.hash(refreshToken: token), now: Date())
        return Response(status: .noContent)
    }

    @Sendable func logoutAll(_ request: Request, context: Context) async throws -> JSONResponse<[String: Int]> {
        let caller = try await verifier.authenticate(request)
        let ended = try await users.revokeAll(userID: caller.id, now: Date())
        return JSONResponse(.ok, ["sessionsEnded": ended])
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
        let token = try await oneTimeToken(request, context)
        do {
            let user = try await users.verifyEmail(tokenHash: TokenIssuer.hash(refreshToken: token), now: Date())
            return JSONResponse(.ok, UserBody(user))
        } catch IdentityError.invalidOneTimeToken {
            throw Problem.invalidLink
        }
    }

    @Sendable func resendVerification(_ request: Request, context: Context) async throws -> Response {
        let caller = try await verifier.authenticate(request)
        let now = Date()
        guard let user = try await users.user(caller.id) else { throw Problem.notFound("user") }
        if !user.emailVerified {
            try await users.resendVerification(user, token: .make(lifetime: settings.verificationLifetime, now: now), settings: settings, now: now)
        }
        return Response(status: .accepted)
    }

    struct ResetRequest: Decodable {
        var email: String?
    }

    /// Always 202: whether an account exists is not revealed.
    @Sendable func requestReset(_ request: Request, context: Context) async throws -> Response {
        let input = try await request.decode(as: ResetRequest.self, context: context)
        guard let email = input.email?.trimmingCharacters(in: .whitespacesAndNewlines), EmailAddress.isValid(email) else {
            throw Problem.validation([FieldError(field: "email", code: "invalid_email", message: "This is not a valid email address.")])
        }
        let now = Date()
        // At most three links an hour per address; asking costs the same whether or not the
        // account exists, and the answer never says.
        let requests = try await users.countRequest(key: "reset:" + EmailAddress.normalized(email), now: now, window: 3600)
        if requests <= 3, let user = try await users.user(email: email) {
            let token = OneTimeToken.make(lifetime: settings.resetLifetime, now: now)
            try await users.requestPasswordReset(userID: user.id, token: token, link: settings.resetURL(token.token), now: now)
        }
        return Response(status: .accepted)
    }

    struct ResetLinkState: Encodable, Sendable {
        var valid: Bool
        var expiresAt: Date
    }

    /// What a page opened from the mailed link asks first: can this link still be used?
    @Sendable func checkReset(_ request: Request, context: Context) async throws -> JSONResponse<ResetLinkState> {
        let token = try await oneTimeToken(request, context)
        guard let expiry = try await users.resetLinkExpiry(tokenHash: TokenIssuer.hash(refreshToken: token), now: Date()) else {
            throw Problem.invalidLink
        }
        return JSONResponse(.ok, ResetLinkState(valid: true, expiresAt: expiry))
    }

    struct ConfirmResetRequest: Decodable {
        var token: String?
        var password: String?
    }

    @Sendable func confirmReset(_ request: Request, context: Context) async throws -> Response {
        var input = try await request.decode(as: ConfirmResetRequest.self, context: context)
        if input.token == nil { input.token = request.uri.queryParameters.get("token") }
        var errors: [FieldError] = []
        if (input.token ?? "").isEmpty { errors.append(FieldError(field: "token", code: "required", message: "The link's token is required.")) }
        if let problem = Registration.passwordProblem(input.password) { errors.append(problem) }
        guard errors.isEmpty, let token = input.token, let password = input.password else { throw Problem.validation(errors) }
        let hash = try await hasher.hash(password)
        do {
            try await users.resetPassword(tokenHash: TokenIssuer.hash(refreshToken: token), passwordHash: hash, now: Date())
        } catch IdentityError.invalidOneTimeToken {
            throw Problem.invalidLink
        }
        return Response(status: .noContent)
    }
}

extension Problem {
    /// A verification or reset link that cannot be used (any more).
    static let invalidLink = Problem(
        .badRequest, code: "invalid_link", title: "This link is not valid",
        detail: "It was used already, has expired or was replaced by a newer one.")
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
    }
}
