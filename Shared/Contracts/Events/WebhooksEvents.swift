import Foundation

/// `webhooks.endpoint.disabled.v1`: a webhook endpoint kept failing past the threshold and was
/// disabled; its events wait until an admin enables it again. Notifications mails every admin.
public struct WebhooksEndpointDisabledV1: DomainEvent {
    public static let eventType = EventType(producer: .webhooks, name: "endpoint.disabled", majorVersion: 1)

    public var endpointId: String
    /// The endpoint's scheme, host and port only: a URL's path and query often carry a secret.
    public var origin: String
    public var description: String
    /// The first failed attempt since the last success.
    public var failingSince: Date
    public var disabledAt: Date
    /// The last attempt's error or HTTP status, for people.
    public var lastError: String

    public init(endpointId: String, origin: String, description: String, failingSince: Date, disabledAt: Date, lastError: String) {
        self.endpointId = endpointId
        self.origin = origin
        self.description = description
        self.failingSince = failingSince
        self.disabledAt = disabledAt
        self.lastError = lastError
    }

    public var subject: String { endpointId }
}
