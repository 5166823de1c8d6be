import ServiceKit

/// The events the billing service consumes; its queue is bound to exactly these types.
enum BillingHandlers {
    static let all: [EventHandler] = [
        Tombstones.handler(),
    ]
}
