import Contracts
import Database
import Foundation
import ServiceKit

/// Every public type still published, recorded as it came and queued for the endpoints that
/// want it. Webhooks reads the public contract only, like any outside subscriber.
enum WebhooksHandlers {
    static let all: [EventHandler] =
        [
            AccessRevocations.handler(),
            // A deleted user's events that were delivered are forgotten; those still waiting for an
            // endpoint are delivered first (the deletion itself follows them, in order).
            Tombstones.handler { userID, connection in
                try connection.execute(
                    """
                    DELETE FROM events ev WHERE ev.aggregate = \(userID.lowercased)
                      AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = ev.id AND d.status = 'PENDING')
                    """)
            },
        ]
        + EventCatalog.publicTypes.map { type in
            EventHandler(raw: type, name: "webhooks.fan_out") { event, connection in
                try EndpointStore.record(event, on: connection)
            }
        }
}
