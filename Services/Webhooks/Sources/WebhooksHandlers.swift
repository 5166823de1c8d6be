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
            // depend on which came first.
            Tombstones.handler { userID, connection in
                try connection.execute(
                    "DELETE FROM events WHERE aggregate = \(userID.lowercased) AND routing_key <> \(IdentityUserDeletedV1.eventType.routingKey)")
            },
        ]
        + EventCatalog.publicTypes.map { type in
            EventHandler(raw: type, name: "webhooks.fan_out") { event, connection in
                try EndpointStore.record(event, on: connection)
            }
        }
}
