import Contracts
import Database
import Foundation
import Hummingbird
import Logging
import ServiceKit

/// Builds the identity service from its configuration: every dependency is made here.
public func buildIdentityApplication(_ configuration: ServiceConfiguration) async throws -> some ApplicationProtocol {
    let runtime = try await ServiceRuntime.start(configuration, migrations: IdentityMigrations.all)
    guard let keyFile = configuration.string("jwt.signing.key.file") else {
        throw ConfigurationError.missing("IDENTITY_JWT_SIGNING_KEY_FILE")
    }
    let signingKey = try SigningKey(pem: String(contentsOfFile: keyFile, encoding: .utf8))
    // Keys being retired still verify: PEM files named in IDENTITY_JWT_VERIFY_KEY_FILES.
    let retiring = try (configuration.string("jwt.verify.key.files") ?? "").split(separator: ",").map {
        try SigningKey(pem: String(contentsOfFile: String($0).trimmingCharacters(in: .whitespaces), encoding: .utf8))
    }
    let tokens = try await TokenIssuer(signingKey: signingKey, verificationKeys: retiring)
    let users = UserRepository(database: runtime.database)
    let database = runtime.database
    let verifier = try await TokenVerifier.jwks(tokens.jwks).refusing { id, issuedAt in
        try await database.withConnection { try AccessRevocations.reason(id, issuedAt: issuedAt, on: $0) }
    }
    let threads = configuration.int("bcrypt.threads", default: 2)
    let hasher = PasswordHasher(
        cost: UInt8(clamping: configuration.int("bcrypt.cost", default: 12)), threads: threads,
        maxQueued: configuration.int("bcrypt.queue", default: threads * 8))
    if configuration.string("trust.forwarded.for") == "true" {
        // Silently ignoring it would throttle every client behind a gateway as one.
        throw ConfigurationError.invalid("IDENTITY_TRUST_FORWARDED_FOR was replaced by IDENTITY_TRUSTED_PROXIES (the gateway's addresses or networks)")
    }
    let clientAddresses: ClientAddressResolver
    do {
        clientAddresses = try ClientAddressResolver(
            configuration: configuration.string("trusted.proxies") ?? "", variable: configuration.variableName("trusted.proxies"))
    } catch let error as ClientAddressResolver.InvalidProxy {
        throw ConfigurationError.invalid(error.description)
    }
    var settings = IdentitySettings(
        publicURL: configuration.string("public.url", default: "http://\(configuration.host):\(configuration.port)"),
        clientAddresses: clientAddresses)
    settings.throttle.perAccountAndAddress = configuration.int("throttle.account.address", default: settings.throttle.perAccountAndAddress)
    settings.throttle.perAccount = configuration.int("throttle.account", default: settings.throttle.perAccount)
    settings.throttle.perAddress = configuration.int("throttle.address", default: settings.throttle.perAddress)
    let counters = AttemptCounters(database: runtime.database)

    let router = ServiceRuntime.router(context: IdentityRequestContext.self)
    let auth = AuthController(
        users: users, hasher: hasher, tokens: tokens, verifier: verifier, settings: settings, counters: counters,
        decoyHash: try await hasher.hash(UUID().uuidString))
    auth.add(to: router)
    OAuthController(users: users, auth: auth, providers: try OAuthProvider.configured(configuration)).add(to: router)
    ProfileController(users: users, verifier: verifier, settings: settings, auth: auth).add(to: router)
    AdminController(users: users, verifier: verifier).add(to: router)
    let consumer = try runtime.consumer([
        EventHandler(NotificationsConsentChangedV1.self, name: "profile.consent") { event, connection in
            try users.applyConsent(event, on: connection)
        },
    ])
    return runtime.application(
        router: router, consumer: consumer, services: [IdentityHousekeeping(counters: counters, logger: runtime.logger)],
        openAPI: IdentityOpenAPI.document)
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
        if existing.role == "ADMIN", let current = existing.passwordHash {
            unchanged = try await hasher.verify(registration.password, hash: current)
        }
        let hash = try await hasher.hash(registration.password)
        try await hasher.shutdown()
        if unchanged { return (false, existing.id) } // already this admin, with this password
        _ = try await database.transaction { connection in
            // The account is the operator's from now on: their password, and no session of before.
            try connection.execute(
                """
                UPDATE users SET role = 'ADMIN', password_hash = \(hash), version = version + 1, updated_at = \(now)
                WHERE id = \(existing.id)
                """)
            try connection.execute("UPDATE sessions SET revoked_at = \(now) WHERE user_id = \(existing.id) AND revoked_at IS NULL")
            try AccessRevocations.revoke(existing.id, before: now, on: connection)
            if existing.role != "ADMIN" {
                try Outbox.enqueue(
                    CloudEvent(
                        IdentityUserRoleChangedV1(userId: existing.id.lowercased, role: "ADMIN", previousRole: existing.role, changedBy: existing.id.lowercased, changedAt: now),
                        sequence: existing.version + 1, time: now),
                    on: connection)
            }
        }
        return (false, existing.id)
    }
    let hasher = PasswordHasher(cost: bcryptCost)
    let hash = try await hasher.hash(registration.password)
    try await hasher.shutdown()
    let user = try await users.register(
        id: UUIDv7.make(at: now), email: registration.email, name: registration.name, passwordHash: hash, role: "ADMIN",
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
