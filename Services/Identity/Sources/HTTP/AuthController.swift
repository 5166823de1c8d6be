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

extension Problem {
    /// Too many attempts of one kind; try again after `retryAfter` seconds.
    static func tooManyAttempts(_ retryAfter: Int, title: String = "Too many attempts; try again later") -> Problem {
        Problem(.tooManyRequests, code: "too_many_attempts", title: title, headers: [.retryAfter: String(retryAfter)])
    }

    /// The password hashing queue is full.
    static let busy = Problem(
        .serviceUnavailable, code: "busy", title: "Too many requests are being handled; try again in a moment",
        headers: [.retryAfter: "2"])
}

/// `/v1/auth/…`: accounts, sign-in and tokens.
struct AuthController: Sendable {
    typealias Context = ServiceRequestContext
    let users: UserRepository
    let hasher: PasswordHasher
    let tokens: TokenIssuer
    let settings: IdentitySettings
    let counters: AttemptCounters
    /// A hash to check passwords against when the account does not exist, so that a wrong email
    /// costs as long as a wrong password.
    let decoyHash: String

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
        routes.open.get("/.well-known/jwks.json") { _, _ in
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

    /// Reserves one attempt against `keys`, or answers 429 with `Retry-After`.
    func reserve(_ keys: [AttemptKey], now: Date, title: String = "Too many attempts; try again later") async throws -> AttemptCounters.Reservation {
        do {
            return try await counters.reserve(keys, now: now)
        } catch let refused as AttemptCounters.Refused {
            throw Problem.tooManyAttempts(refused.retryAfter, title: title)
        }
    }

    /// One attempt of `action` from the request's client address, or 429.
    func reserveAction(_ action: String, _ request: Request, _ context: Context, now: Date) async throws {
        _ = try await reserve([settings.throttle.action(action, address: settings.clientAddress(request, context))], now: now)
    }

    /// Hashes or verifies with the bounded pool: 503 `busy` when its queue is full.
    func hashing<T: Sendable>(_ work: () async throws -> T) async throws -> T {
        do {
            return try await work()
        } catch is PasswordHasher.Busy {
            throw Problem.busy
        }
    }

    @Sendable func register(_ request: Request, context: Context) async throws -> JSONResponse<AuthBody> {
        let input = try await request.decode(as: RegisterRequest.self, context: context)
        let registration = try Registration.validate(email: input.email, password: input.password, name: input.name).get()
        try await reserveAction("register", request, context, now: Date())
        let hash = try await hashing { try await hasher.hash(registration.password) }
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
            throw Problem.emailTaken
        }
        return JSONResponse(.created, try await authBody(user, refreshToken: refresh.token, now: now))
    }

    struct LoginRequest: Decodable {
        var email: String?
        var password: String?
    }

    /// Checks a user's password with the sign-in limits: the attempt is reserved before bcrypt
    /// runs, and given back when the password was right (clearing the account-and-address
    /// counter: the owner has shown who they are from there). 429 when a limit is reached, 503
    /// when the hashing queue is full (the attempt is given back too).
    func checkPassword(_ password: String, email: String, hash: String?, request: Request, context: Context, now: Date) async throws -> Bool {
        let keys = settings.throttle.signIn(email: email, address: settings.clientAddress(request, context))
        let reservation = try await reserve(keys, now: now, title: "Too many sign-in attempts; try again later")
        let matches: Bool
        do {
            // Always one bcrypt check, so an unknown email answers as slowly as a wrong password.
            matches = try await hasher.verify(password, hash: hash ?? decoyHash)
        } catch {
            try? await counters.release(reservation)
            if error is PasswordHasher.Busy { throw Problem.busy }
            throw error
        }
        guard matches, hash != nil else { return false }
        try await counters.release(reservation, clearing: [keys[0].key])
        return true
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
        let user = try await users.user(email: email)
        let matches = try await checkPassword(password, email: email, hash: user?.passwordHash, request: request, context: context, now: now)
        guard let user, matches else {
            throw Problem(.unauthorized, code: "invalid_credentials", title: "The email or the password is wrong")
        }
        let refresh = TokenIssuer.newRefreshToken()
        let signedIn = try await users.signedIn(user.id, refreshTokenHash: refresh.hash, method: "password", now: now)
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
        let caller = try context.user
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
        } catch IdentityError.emailTaken {
            throw Problem.emailTaken
        }
    }

    @Sendable func resendVerification(_ request: Request, context: Context) async throws -> Response {
        let caller = try context.user
        let now = Date()
        try await reserveAction("verify-email-resend", request, context, now: now)
        do {
            try await users.resendVerification(caller.id, token: .make(lifetime: settings.verificationLifetime, now: now), settings: settings, now: now)
        } catch IdentityError.notFound {
            throw Problem.notFound("user")
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
        try await reserveAction("password-reset", request, context, now: now)
        // At most three links an hour per email address; asking costs the same whether or not the
        // account exists, and the answer never says.
        let mayMail = (try? await counters.reserve([settings.throttle.resetLinks(email: email)], now: now)) != nil
        if mayMail, let user = try await users.user(email: email) {
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
        if let error = Registration.passwordError(input.password) { errors.append(error) }
        guard errors.isEmpty, let token = input.token, let password = input.password else { throw Problem.validation(errors) }
        // The link is taken before bcrypt runs: a made-up or used token costs no hashing.
        let tokenHash = TokenIssuer.hash(refreshToken: token)
        let now = Date()
        let userID: UUID
        do {
            userID = try await users.claimResetLink(tokenHash: tokenHash, now: now)
        } catch IdentityError.invalidOneTimeToken {
            throw Problem.invalidLink
        }
        let hash: String
        do {
            hash = try await hasher.hash(password)
        } catch {
            // Not the holder's fault: the link works again.
            try? await users.unclaimResetLink(tokenHash: tokenHash, claimedAt: now)
            if error is PasswordHasher.Busy { throw Problem.busy }
            throw error
        }
        try await users.resetPassword(userID: userID, passwordHash: hash, now: now)
        return Response(status: .noContent)
    }

    struct RevertLinkState: Encodable, Sendable {
        var valid: Bool
        var email: String
        var expiresAt: Date
    }

    /// What a page opened from the link mailed to the old address asks first.
    @Sendable func checkRevert(_ request: Request, context: Context) async throws -> JSONResponse<RevertLinkState> {
        let token = try await oneTimeToken(request, context)
        guard let link = try await users.revertLink(tokenHash: TokenIssuer.hash(refreshToken: token), now: Date()) else {
            throw Problem.invalidLink
        }
        return JSONResponse(.ok, RevertLinkState(valid: true, email: link.email, expiresAt: link.expiresAt))
    }

    /// Takes the account back to the old address (see `UserRepository.revertEmail`).
    @Sendable func revertEmail(_ request: Request, context: Context) async throws -> JSONResponse<UserBody> {
        let token = try await oneTimeToken(request, context)
        let now = Date()
        do {
            let user = try await users.revertEmail(
                tokenHash: TokenIssuer.hash(refreshToken: token), reset: .make(lifetime: settings.resetLifetime, now: now),
                resetURL: settings.resetURL, now: now)
            return JSONResponse(.ok, UserBody(user))
        } catch IdentityError.invalidOneTimeToken {
            throw Problem.invalidLink
        } catch IdentityError.emailTaken {
            throw Problem.emailTaken
        }
    }
}

extension Problem {
    static let emailTaken = Problem(.conflict, code: "email_taken", title: "An account with this email already exists")

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
