import Contracts
import Database
import Foundation
import Hummingbird
import Logging
import ServiceKit

/// What identity's routes need; made by `buildIdentityApplication`, or by a test.
public struct IdentityDependencies: Sendable {
    public var users: UserRepository
    public var counters: AttemptCounters
    public var hasher: PasswordHasher
    public var tokens: TokenIssuer
    /// Verifies access tokens: identity's own keys, and its projection of revoked ones.
    public var verifier: TokenVerifier
    public var settings: IdentitySettings

    public init(
        users: UserRepository, counters: AttemptCounters, hasher: PasswordHasher, tokens: TokenIssuer, verifier: TokenVerifier,
        settings: IdentitySettings
    ) {
        self.users = users
        self.counters = counters
        self.hasher = hasher
        self.tokens = tokens
        self.verifier = verifier
        self.settings = settings
    }

    /// The dependencies over one database: users, counters and revocations in `database`.
    public static func make(database: DatabasePool, tokens: TokenIssuer, settings: IdentitySettings) async throws -> IdentityDependencies {
        let verifier = try await TokenVerifier.jwks(tokens.jwks).refusing { id, issuedAt in
            try await database.withConnection { try AccessRevocations.reason(id, issuedAt: issuedAt, on: $0) }
        }
        let hasher = PasswordHasher(cost: settings.bcryptCost, threads: settings.bcryptThreads, maxQueued: settings.bcryptQueue)
        return IdentityDependencies(
            users: UserRepository(database: database), counters: AttemptCounters(database: database), hasher: hasher, tokens: tokens,
            verifier: verifier, settings: settings)
    }
}

/// Identity's routes, each in the group of who may call it.
public func buildIdentityRouter(_ dependencies: IdentityDependencies) async throws -> Router<ServiceRequestContext> {
    let routes = ServiceRuntime.routes(verifier: dependencies.verifier)
    let accounts = Accounts(
        users: dependencies.users, hasher: dependencies.hasher, tokens: dependencies.tokens, settings: dependencies.settings,
        counters: dependencies.counters, decoyHash: try await dependencies.hasher.hash(UUID().uuidString))
    AuthController(accounts: accounts).add(to: routes)
    OAuthController(users: dependencies.users, accounts: accounts, providers: dependencies.settings.oauthProviders).add(to: routes)
    ProfileController(users: dependencies.users, settings: dependencies.settings, accounts: accounts).add(to: routes)
    AdminController(users: dependencies.users).add(to: routes)
    return routes.router
}

/// Builds the identity service from its configuration: every dependency is made here.
public func buildIdentityApplication(_ configuration: ServiceConfiguration) async throws -> some ApplicationProtocol {
    let settings = try IdentitySettings.load(from: configuration)
    let runtime = try await ServiceRuntime.start(configuration, migrations: IdentityMigrations.all)
    guard let keyFile = settings.signingKeyFile else { throw ConfigurationError.missing("IDENTITY_JWT_SIGNING_KEY_FILE") }
    let signingKey = try SigningKey(pem: String(contentsOfFile: keyFile, encoding: .utf8))
    // Keys being retired still verify.
    let retiring = try settings.retiringKeyFiles.map { try SigningKey(pem: String(contentsOfFile: $0, encoding: .utf8)) }
    let tokens = try await TokenIssuer(signingKey: signingKey, verificationKeys: retiring)
    let dependencies = try await IdentityDependencies.make(database: runtime.database, tokens: tokens, settings: settings)
    let router = try await buildIdentityRouter(dependencies)
    let users = dependencies.users
    let consumer = try runtime.consumer([
        EventHandler(NotificationsConsentChangedV1.self, name: "profile.consent") { event, connection in
            try users.applyConsent(event, on: connection)
        },
    ])
    // Spent throttle counters, OAuth states and links go once a minute.
    let counters = dependencies.counters
    let logger = runtime.logger
    let housekeeping = DrainingWorker("identity housekeeping", idle: .seconds(60), logger: runtime.logger) {
        let pruned = try await counters.prune(now: Date())
        if pruned > 0 { logger.debug("pruned expired throttle counters, OAuth states and links", metadata: ["rows": "\(pruned)"]) }
        return false
    }
    return runtime.application(router: router, consumer: consumer, services: [housekeeping], openAPI: IdentityOpenAPI.document)
}

/// Creates an admin account (or makes an existing account an admin): the first admin of a
/// deployment, from `syllabus admin create` or `make run`.
public func createAdmin(
    databaseURL: String, email: String, password: String, name: String, force: Bool = false, bcryptCost: UInt8 = 12, logger: Logger
) async throws -> (created: Bool, id: UUID) {
    guard case .success(let registration) = Registration.validate(email: email, password: password, name: name) else {
        throw ConfigurationError.invalid("the admin's email, password (8 characters to 72 bytes) or name is not valid")
    }
    let database = DatabasePool(url: databaseURL, size: 1, searchPath: "identity", name: "identity-admin", logger: logger)
    defer { database.shutdown() }
    let users = UserRepository(database: database)
    let now = Date()
    if let existing = try await users.user(email: registration.email) {
        // Whoever registered an address first, without proving it is theirs, must not become the
        // admin by the operator naming that address.
        guard existing.emailVerified || force else { throw AdminPromotionRefused(email: registration.email) }
        let hasher = PasswordHasher(cost: bcryptCost)
        var unchanged = false
        if Role(rawValue: existing.role) == .admin, let current = existing.passwordHash {
            unchanged = try await hasher.verify(registration.password, hash: current)
        }
        let hash = try await hasher.hash(registration.password)
        try await hasher.shutdown()
        if unchanged { return (false, existing.id) } // already this admin, with this password
        // The account is the operator's from now on: their password, and no session of before.
        try await users.makeAdmin(existing.id, passwordHash: hash, now: now)
        return (false, existing.id)
    }
    let hasher = PasswordHasher(cost: bcryptCost)
    let hash = try await hasher.hash(registration.password)
    try await hasher.shutdown()
    let user = try await users.register(
        id: UUIDv7.make(at: now), email: registration.email, name: registration.name, passwordHash: hash, role: Role.admin.rawValue,
        emailVerified: true, refreshTokenHash: TokenIssuer.newRefreshToken().hash, verification: nil, verificationURL: { $0 }, now: now)
    return (true, user.id)
}

/// `syllabus admin create` named an address someone registered without verifying it.
public struct AdminPromotionRefused: Error, CustomStringConvertible {
    public let email: String
    public var description: String {
        "\(email) belongs to an account whose address was never verified: anyone could have registered it. "
            + "Verify it first, or pass --force to take the account over (its password is replaced and its sessions end)."
    }
}
