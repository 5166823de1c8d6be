import Contracts
import Database
import Foundation
import Hummingbird
import Logging
import ServiceKit

/// What identity's routes need; made by `buildIdentityApplication`, or by a test (with a test's
/// signing key, so that tokens it signs are the ones identity verifies).
public struct IdentityDependencies: Sendable {
    public var users: UserRepository
    public var counters: AttemptCounters
    public var hasher: PasswordHasher
    public var tokens: TokenIssuer
    /// Identity's own keys, and its projection of who was deleted or whose role changed.
    public var verifier: TokenVerifier
    public var settings: IdentitySettings
    /// A hash to check passwords against when the account does not exist, so that a wrong email
    /// costs as long as a wrong password.
    public var decoyHash: String
    public var logger: Logger

    public init(
        users: UserRepository, counters: AttemptCounters, hasher: PasswordHasher, tokens: TokenIssuer, verifier: TokenVerifier,
        settings: IdentitySettings, decoyHash: String, logger: Logger
    ) {
        self.users = users
        self.counters = counters
        self.hasher = hasher
        self.tokens = tokens
        self.verifier = verifier
        self.settings = settings
        self.decoyHash = decoyHash
        self.logger = logger
    }

    /// Everything over one database, verifying tokens with `tokens`' keys.
    ///
    /// - Parameter revocations: the replica's memory of revoked access; nil asks the database on
    ///   every request.
    public init(
        database: DatabasePool, tokens: TokenIssuer, hasher: PasswordHasher, settings: IdentitySettings, revocations: RevocationMemory? = nil,
        logger: Logger
    ) async throws {
        let verifier = try await TokenVerifier.jwks(tokens.jwks).refusing(AccessRevocations.check(database, memory: revocations))
        self.init(
            users: UserRepository(database: database), counters: AttemptCounters(database: database), hasher: hasher, tokens: tokens,
            verifier: verifier, settings: settings, decoyHash: try await hasher.hash(UUID().uuidString), logger: logger)
    }
}

/// Identity's routes, each in the group of who may call it.
public func buildIdentityRouter(_ dependencies: IdentityDependencies) -> Router<ServiceRequestContext> {
    let routes = ServiceRuntime.routes(verifier: dependencies.verifier)
    let users = dependencies.users
    let settings = dependencies.settings
    let limits = AttemptLimits(
        counters: dependencies.counters, hasher: dependencies.hasher, throttle: settings.throttle, decoyHash: dependencies.decoyHash)
    let signIn = SignIn(users: users, tokens: dependencies.tokens, limits: limits)
    let accounts = Accounts(users: users, signIn: signIn, limits: limits, settings: settings)
    AuthController(
        signIn: signIn, accounts: accounts, passwordReset: PasswordReset(users: users, limits: limits, settings: settings),
        tokens: dependencies.tokens, settings: settings
    ).add(to: routes)
    OAuthController(
        oauth: OAuthSignIn(users: users, signIn: signIn, limits: limits, providers: settings.oauthProviders),
        settings: settings
    ).add(to: routes)
    ProfileController(accounts: accounts, settings: settings).add(to: routes)
    AdminController(administration: UserAdministration(users: users)).add(to: routes)
    return routes.router
}

/// Builds the identity service from its configuration: every dependency is made here.
public func buildIdentityApplication(_ configuration: ServiceConfiguration) async throws -> some ApplicationProtocol {
    let settings = try IdentitySettings.load(from: configuration)
    let runtime = try await ServiceRuntime.start(configuration, migrations: IdentityMigrations.all)
    func key(_ file: String) throws -> SigningKey { try SigningKey(pem: String(contentsOfFile: file, encoding: .utf8)) }
    guard let signingKeyFile = settings.signingKeyFile else { throw ConfigurationError.missing("IDENTITY_JWT_SIGNING_KEY_FILE") }
    // Keys being retired still verify.
    let tokens = try await TokenIssuer(signingKey: try key(signingKeyFile), verificationKeys: try settings.verifyKeyFiles.map(key))
    let hasher = PasswordHasher(cost: settings.bcryptCost, threads: settings.bcryptThreads, maxQueued: settings.bcryptQueue)
    // Identity makes the changes itself: its requests ask the database, so a role change or a
    // deletion binds the very next request, not the one after the notification.
    let dependencies = try await IdentityDependencies(
        database: runtime.database, tokens: tokens, hasher: hasher, settings: settings, logger: runtime.logger)
    let users = dependencies.users
    let consumer = try runtime.consumer(IdentityHandlers.all(users: users))
    return runtime.application(
        router: buildIdentityRouter(dependencies), consumer: consumer,
        services: [IdentityHousekeeping.worker(
            counters: dependencies.counters, auditRetentionDays: settings.auditRetentionDays, logger: runtime.logger)], openAPI: IdentityOpenAPI.document)
}

/// Creates an admin account (or makes an existing account an admin): the first admin of a
/// deployment, from `syllabus admin create` or `make run`. An existing account goes through the
/// same role change as an admin's (locked, audited, published), as its own actor.
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
        _ = try await users.changeRole(existing.id, to: Role.admin.rawValue, by: existing.id, replacingPassword: hash, now: now)
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
