import Foundation
import ServiceKit

/// Webhooks' own settings, read once at start (`WEBHOOKS_<KEY>` or `<KEY>`).
public struct WebhooksSettings: Sendable {
    /// `RETRY_SCHEDULE`: seconds before each attempt after the first (the first goes at once);
    /// an event that fails them all is recorded as failed. About 28 hours by default, eight attempts.
    public var retrySchedule: [Int]
    /// `DISABLE_AFTER`: seconds an endpoint may fail every attempt before it is disabled.
    public var disableAfter: Int
    /// Where deliveries may go: `ALLOW_HTTP` (plain HTTP, for local development) and
    /// `ALLOW_PRIVATE` (address classes otherwise refused: `loopback`, `private`, `link-local`).
    public var policy: DestinationPolicy
    /// `TIMEOUT_SECONDS`: the whole of one attempt, connecting included.
    public var timeout: Int
    /// `RETENTION_DAYS`: how long delivered events and their attempts are kept.
    public var retentionDays: Int

    public static let defaultSchedule = [5, 300, 1800, 7200, 18000, 36000, 36000]

    public init(
        retrySchedule: [Int] = defaultSchedule, disableAfter: Int = 3 * 86400, policy: DestinationPolicy = DestinationPolicy(),
        timeout: Int = 10, retentionDays: Int = 30
    ) {
        self.retrySchedule = retrySchedule
        self.disableAfter = disableAfter
        self.policy = policy
        self.timeout = timeout
        self.retentionDays = retentionDays
    }

    public static func load(from configuration: ServiceConfiguration) throws -> WebhooksSettings {
        var settings = WebhooksSettings()
        if let text = configuration.nonEmpty("retry.schedule") {
            let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !values.isEmpty, values.allSatisfy({ ($0 ?? -1) >= 0 }) else {
                throw ConfigurationError.invalid("WEBHOOKS_RETRY_SCHEDULE must be seconds, comma-separated")
            }
            settings.retrySchedule = values.map { $0! }
        }
        settings.disableAfter = configuration.int("disable.after", default: settings.disableAfter)
        guard settings.disableAfter >= 1 else { throw ConfigurationError.invalid("WEBHOOKS_DISABLE_AFTER must be at least 1 second") }
        settings.timeout = configuration.int("timeout.seconds", default: settings.timeout)
        guard (1...60).contains(settings.timeout) else { throw ConfigurationError.invalid("WEBHOOKS_TIMEOUT_SECONDS must be 1 to 60") }
        settings.retentionDays = configuration.int("retention.days", default: settings.retentionDays)
        guard settings.retentionDays >= 1 else { throw ConfigurationError.invalid("WEBHOOKS_RETENTION_DAYS must be at least 1") }
        let allowHTTP = ["1", "true", "yes"].contains(configuration.string("allow.http", default: "false").lowercased())
        var allowed: Set<DestinationPolicy.AddressClass> = []
        for name in configuration.string("allow.private", default: "").split(separator: ",") {
            let trimmed = name.trimmingCharacters(in: .whitespaces)
            guard let value = DestinationPolicy.AddressClass(rawValue: trimmed) else {
                throw ConfigurationError.invalid("WEBHOOKS_ALLOW_PRIVATE names loopback, private or link-local, comma-separated; not \(trimmed)")
            }
            allowed.insert(value)
        }
        settings.policy = DestinationPolicy(allowHTTP: allowHTTP, allowed: allowed)
        return settings
    }
}
