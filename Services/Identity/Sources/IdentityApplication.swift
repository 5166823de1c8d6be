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
    let tokens = try await TokenIssuer(signingKey: signingKey)
    let hasher = PasswordHasher(cost: UInt8(clamping: configuration.int("bcrypt.cost", default: 12)))

    let router = ServiceRuntime.router(context: BasicRequestContext.self)
    AuthController(users: UserRepository(database: runtime.database), hasher: hasher, tokens: tokens).add(to: router)
    return runtime.application(router: router, openAPI: IdentityOpenAPI.document)
}
