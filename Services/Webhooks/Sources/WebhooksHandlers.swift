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
            // A deleted user's events are forgotten, delivered or still waiting (their deliveries
            // go with them); endpoints get the deletion alone. Events of theirs that arrive after
            // it are not kept either (`EndpointStore.record`), so what an endpoint is sent does not
            // depend on which came first. One already tried (being sent now, or waiting to be
            // tried again) stays: it may be on the wire, and the deletion goes out after it.
            Tombstones.handler { userID, connection in
                try connection.execute(
                    """
                    DELETE FROM events ev WHERE ev.aggregate = \(userID.lowercased) AND ev.routing_key <> \(IdentityUserDeletedV1.eventType.routingKey)
                      AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = ev.id AND d.status = 'PENDING' AND d.attempts > 0)
                    """)
            },
        ]
        + EventCatalog.publicTypes.map { type in
            EventHandler(raw: type, name: "webhooks.fan_out") { event, connection in
                try EndpointStore.record(event, on: connection)
            }
        }
}
