import Foundation
import ServiceKit

/// Identity's settings that shape its answers, and the ones its runtime needs, read once from the
/// configuration: every `IDENTITY_*` variable is named here.
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
    /// bcrypt's cost (`IDENTITY_BCRYPT_COST`), threads (`IDENTITY_BCRYPT_THREADS`) and how many
    /// hashings may wait for one (`IDENTITY_BCRYPT_QUEUE`).
    public var bcryptCost: UInt8 = 12
    public var bcryptThreads = 2
    public var bcryptQueue = 16
    /// The PEM file of the key access tokens are signed with (`IDENTITY_JWT_SIGNING_KEY_FILE`),
    /// and those of keys being retired, which still verify (`IDENTITY_JWT_VERIFY_KEY_FILES`).
    public var signingKeyFile: String?
    public var retiringKeyFiles: [String] = []
    /// The OAuth providers offered for sign-in (`IDENTITY_OAUTH_PROVIDERS` and each one's
    /// `IDENTITY_OAUTH_<NAME>_*`).
    public var oauthProviders: [String: OAuthProvider] = [:]

    public init(publicURL: String, clientAddresses: ClientAddressResolver = ClientAddressResolver()) {
        self.publicURL = publicURL.withoutTrailingSlash
        self.clientAddresses = clientAddresses
    }

    /// The settings of `configuration`, or why they cannot be used.
    public static func load(from configuration: ServiceConfiguration) throws -> IdentitySettings {
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
        settings.bcryptCost = UInt8(clamping: configuration.int("bcrypt.cost", default: 12))
        settings.bcryptThreads = configuration.int("bcrypt.threads", default: 2)
        settings.bcryptQueue = configuration.int("bcrypt.queue", default: settings.bcryptThreads * 8)
        settings.signingKeyFile = configuration.string("jwt.signing.key.file")
        settings.retiringKeyFiles = (configuration.string("jwt.verify.key.files") ?? "").split(separator: ",").map {
            String($0).trimmingCharacters(in: .whitespaces)
        }.filter { !$0.isEmpty }
        settings.oauthProviders = try OAuthProvider.configured(configuration)
        return settings
    }

    func verificationURL(_ token: String) -> String { "\(publicURL)/v1/auth/verify-email?token=\(token)" }
    func resetURL(_ token: String) -> String { "\(publicURL)/v1/auth/password-reset/confirm?token=\(token)" }
    func revertURL(_ token: String) -> String { "\(publicURL)/v1/auth/email-change/revert?token=\(token)" }
}
