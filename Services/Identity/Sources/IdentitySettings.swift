import Foundation
import ServiceKit

/// Identity's own settings: every `IDENTITY_*` key is read here, once (`load(from:)`), with its
/// default; the rest of the service takes them from this value.
public struct IdentitySettings: Sendable {
    /// The address identity is reached at, for the links in mail (`IDENTITY_PUBLIC_URL`).
    public var publicURL: String
    /// Who the client is: the peer, or what a trusted proxy says (`IDENTITY_TRUSTED_PROXIES`).
    public var clientAddresses: ClientAddressResolver
    public var verificationLifetime: TimeInterval = 48 * 3600
    public var resetLifetime: TimeInterval = 3600
    /// The old address's link after an email change: longer than the new address's, so the
    /// owner can still take the account back after the change was confirmed.
    public var revertLifetime: TimeInterval = 7 * 24 * 3600
    /// `IDENTITY_THROTTLE_ACCOUNT_ADDRESS`, `IDENTITY_THROTTLE_ACCOUNT`, `IDENTITY_THROTTLE_ADDRESS`.
    public var throttle = Throttle()
    /// The PEM file of the key access tokens are signed with (`IDENTITY_JWT_SIGNING_KEY_FILE`).
    public var signingKeyFile: String?
    /// Keys being retired, which still verify (`IDENTITY_JWT_VERIFY_KEY_FILES`, comma-separated).
    public var verifyKeyFiles: [String] = []
    /// bcrypt's cost (`IDENTITY_BCRYPT_COST`), its threads (`IDENTITY_BCRYPT_THREADS`) and how many
    /// jobs may wait for them (`IDENTITY_BCRYPT_QUEUE`, eight per thread by default).
    public var bcryptCost: UInt8 = 12
    public var bcryptThreads = 2
    public var bcryptQueue: Int?
    /// The sign-in providers named in `IDENTITY_OAUTH_PROVIDERS`, each from `IDENTITY_OAUTH_<NAME>_…`.
    public var oauthProviders: [String: OAuthProvider] = [:]
    /// `AUDIT_RETENTION_DAYS`: how long the admin audit trail is kept.
    public var auditRetentionDays = 730

    public init(publicURL: String, clientAddresses: ClientAddressResolver = ClientAddressResolver()) {
        self.publicURL = publicURL.withoutTrailingSlash
        self.clientAddresses = clientAddresses
    }

    public static func load(from configuration: ServiceConfiguration) throws -> IdentitySettings {
        guard let signingKeyFile = configuration.string("jwt.signing.key.file") else {
            throw ConfigurationError.missing("IDENTITY_JWT_SIGNING_KEY_FILE")
        }
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
        settings.signingKeyFile = signingKeyFile
        settings.verifyKeyFiles = configuration.list("jwt.verify.key.files")
        settings.bcryptThreads = configuration.int("bcrypt.threads", default: settings.bcryptThreads)
        settings.bcryptCost = UInt8(clamping: configuration.int("bcrypt.cost", default: Int(settings.bcryptCost)))
        settings.bcryptQueue = configuration.int("bcrypt.queue", default: settings.bcryptThreads * 8)
        settings.throttle.perAccountAndAddress = configuration.int("throttle.account.address", default: settings.throttle.perAccountAndAddress)
        settings.throttle.perAccount = configuration.int("throttle.account", default: settings.throttle.perAccount)
        settings.throttle.perAddress = configuration.int("throttle.address", default: settings.throttle.perAddress)
        settings.oauthProviders = try oauthProviders(configuration)
        settings.auditRetentionDays = configuration.int("audit.retention.days", default: settings.auditRetentionDays)
        guard settings.auditRetentionDays >= 1 else { throw ConfigurationError.invalid("IDENTITY_AUDIT_RETENTION_DAYS must be at least 1") }
        return settings
    }

    static func oauthProviders(_ configuration: ServiceConfiguration) throws -> [String: OAuthProvider] {
        var providers: [String: OAuthProvider] = [:]
        for name in configuration.list("oauth.providers").map({ $0.lowercased() }) {
            func required(_ key: String) throws -> String {
                guard let value = configuration.string("oauth.\(name).\(key)"), !value.isEmpty else {
                    throw ConfigurationError.missing("IDENTITY_OAUTH_\(name.uppercased())_\(key.uppercased().replacingOccurrences(of: ".", with: "_"))")
                }
                return value
            }
            providers[name] = OAuthProvider(
                name: name, authorizeURL: try required("authorize.url"), tokenURL: try required("token.url"),
                userinfoURL: try required("userinfo.url"), clientID: try required("client.id"),
                clientSecret: try required("client.secret"), redirectURL: try required("redirect.url"),
                scopes: configuration.string("oauth.\(name).scopes") ?? "openid email profile")
        }
        return providers
    }

    func verificationURL(_ token: String) -> String { "\(publicURL)/v1/auth/verify-email?token=\(token)" }
    func resetURL(_ token: String) -> String { "\(publicURL)/v1/auth/password-reset/confirm?token=\(token)" }
    func revertURL(_ token: String) -> String { "\(publicURL)/v1/auth/email-change/revert?token=\(token)" }
}
