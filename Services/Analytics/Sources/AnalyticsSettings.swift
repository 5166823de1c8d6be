import Foundation
import ServiceKit

/// Analytics' own settings, read once at start (`ANALYTICS_<KEY>` or `<KEY>`).
public struct AnalyticsSettings: Sendable {
    /// `RATE_LIMIT`: events per session and minute.
    public var rateLimit: Int
    /// `ADDRESS_RATE_LIMIT`: events per client address and minute, whatever sessions they claim.
    public var addressRateLimit: Int
    /// `RETENTION_DAYS`: how long events are kept.
    public var retentionDays: Int
    /// `TRUSTED_PROXIES`: whose `X-Forwarded-For` is believed.
    public var clientAddresses: ClientAddressResolver

    public init(rateLimit: Int = 120, addressRateLimit: Int = 1200, retentionDays: Int = 730, clientAddresses: ClientAddressResolver = .init()) {
        self.rateLimit = rateLimit
        self.addressRateLimit = addressRateLimit
        self.retentionDays = retentionDays
        self.clientAddresses = clientAddresses
    }

    public static func load(from configuration: ServiceConfiguration) throws -> AnalyticsSettings {
        let rateLimit = configuration.int("rate.limit", default: 120)
        let retentionDays = configuration.int("retention.days", default: 730)
        guard rateLimit >= 1 else { throw ConfigurationError.invalid("ANALYTICS_RATE_LIMIT must be a whole number of at least 1") }
        guard retentionDays >= 1 else { throw ConfigurationError.invalid("ANALYTICS_RETENTION_DAYS must be a whole number of at least 1") }
        let addressRateLimit = configuration.int("address.rate.limit", default: 1200)
        guard addressRateLimit >= 1 else { throw ConfigurationError.invalid("ANALYTICS_ADDRESS_RATE_LIMIT must be a whole number of at least 1") }
        let clientAddresses = try ClientAddressResolver(
            configuration: configuration.string("trusted.proxies", default: ""), variable: configuration.variableName("trusted.proxies"))
        return AnalyticsSettings(
            rateLimit: rateLimit, addressRateLimit: addressRateLimit, retentionDays: retentionDays, clientAddresses: clientAddresses)
    }
}
