/// Every event type of the contract, who publishes it and who consumes it. The broker topology,
/// the AsyncAPI document and the schema tests are all checked against this one list.
public enum EventCatalog {
    public static let all: [EventType] = [
        IdentityUserRegisteredV1.eventType,
    ]

    /// The event types each service consumes: its queue is bound to exactly these keys.
    public static let subscriptions: [ServiceName: [EventType]] = [
        .identity: [],
        .billing: [],
        .content: [],
        .progress: [],
        .notifications: [IdentityUserRegisteredV1.eventType],
    ]
}
