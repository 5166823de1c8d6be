import Contracts
import Foundation
import Hummingbird
import ServiceKit

/// `/v1/auth/…`: accounts and tokens.
struct AuthController<Context: RequestContext>: Sendable {
    let users: UserRepository
    let hasher: PasswordHasher
    let tokens: TokenIssuer

    func add(to router: Router<Context>) {
        router.post("/v1/auth/register", use: register)
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

    struct UserBody: Encodable, Sendable {
        var id: String
        var email: String
        var name: String
        var role: String
        var emailVerified: Bool
        var marketingOptOut: Bool
        var onboardingComplete: Bool
        var createdAt: Date

        init(_ user: User) {
            id = user.id.lowercased
            email = user.email
            name = user.name
            role = user.role
            emailVerified = user.emailVerified
            marketingOptOut = user.marketingOptOut
            onboardingComplete = user.onboardingComplete
            createdAt = user.createdAt
        }
    }

    struct AuthBody: Encodable, Sendable {
        var user: UserBody
        var accessToken: String
        var refreshToken: String
        var expiresIn: Int
    }

    @Sendable func register(_ request: Request, context: Context) async throws -> JSONResponse<AuthBody> {
        let input = try await request.decode(as: RegisterRequest.self, context: context)
        let registration = try Registration.validate(email: input.email, password: input.password, name: input.name).get()
        let hash = try await hasher.hash(registration.password)
        let refresh = TokenIssuer.newRefreshToken()
        let now = Date()
        let user: User
        do {
            user = try await users.register(
                id: UUIDv7.make(at: now), email: registration.email, name: registration.name, passwordHash: hash,
                refreshTokenHash: refresh.hash, now: now)
        } catch RegistrationError.emailTaken {
            throw Problem(.conflict, code: "email_taken", title: "An account with this email already exists")
        }
        let accessToken = try await tokens.accessToken(userID: user.id, role: user.role, now: now)
        return JSONResponse(
            .created,
            AuthBody(user: UserBody(user), accessToken: accessToken, refreshToken: refresh.token, expiresIn: Int(TokenIssuer.accessTokenLifetime)))
    }
}
