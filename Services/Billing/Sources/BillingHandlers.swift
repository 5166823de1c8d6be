import Contracts
import ServiceKit

/// The events billing consumes; its queue is bound to exactly these types.
enum BillingHandlers {
    static let all: [EventHandler] = [
        EventHandler(IdentityUserAccessOverrideChangedV1.self, name: "entitlements.override") { event, connection in
            try BillingStore.applyOverride(event, on: connection)
        },
        AccessRevocations.handler(),
        Tombstones.handler { userID, connection in
            try BillingStore.forget(userID, on: connection)
        },
    ]
}
