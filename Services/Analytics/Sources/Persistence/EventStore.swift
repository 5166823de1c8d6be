import Contracts
import Database
import Foundation
import ServiceKit

/// Writes product events: once each (by their source's id), with the user when known.
public enum EventStore {
    /// Records an event unless one with the same source id exists; returns whether it did.
    @discardableResult
    public static func record(
        _ event: ProductEvent, user: UUID?, session: String? = nil, properties: [String: JSONValue] = [:], source: String, sourceID: String,
        at time: Date, on connection: PostgresConnection
    ) throws -> Bool {
        try connection.execute(
            """
            INSERT INTO events (id, event, user_id, session_id, properties, source, source_event_id, created_at)
            VALUES (\(UUIDv7.make()), \(event.rawValue), \(user), \(session), \(try JSONB(encoding: properties)), \(source), \(sourceID), \(time))
            ON CONFLICT (source_event_id) DO NOTHING
            """
        ).affectedRows == 1
    }

    /// A server event derived from a bus event: its id is the bus event's and the derived name, so
    /// a redelivered or replayed event is counted once, whenever it comes (`sourceID` names another key, for an event
    /// counted once per user whichever bus event brings it).
    static func derive<E: DomainEvent>(
        _ event: ProductEvent, from source: CloudEvent<E>, user: String, properties: [String: JSONValue] = [:], at time: Date? = nil,
        sourceID: String? = nil, on connection: PostgresConnection
    ) throws {
        guard let userID = UUID(uuidString: user) else { throw ConsumeFailure.undecodable("userId is not a UUID") }
        // A deleted user's event that comes after the deletion (another replica, a retry) is
        // counted as the deletion left the ones before it: detached from the person.
        let deleted = try Tombstones.isDeleted(userID, on: connection)
        try record(
            event, user: deleted ? nil : userID, properties: deleted ? [:] : properties, source: "server",
            sourceID: sourceID ?? "\(source.id):\(event.rawValue)", at: time ?? source.time, on: connection)
    }

    /// A signed-in session: the session's anonymous events become the user's.
    public static func stitch(session: String, to user: UUID, on connection: PostgresConnection) throws {
        try connection.execute("UPDATE events SET user_id = \(user) WHERE session_id = \(session) AND user_id IS NULL")
    }

    /// A deleted user's events stay counted, detached from the person.
    public static func anonymise(_ user: UUID, on connection: PostgresConnection) throws {
        try connection.execute("UPDATE events SET user_id = NULL, session_id = NULL, properties = '{}' WHERE user_id = \(user)")
    }

    /// A subscription's state as billing announced it (kept whole, for MRR at any moment).
    static func subscription(_ state: SubscriptionState, sequence: Int64, at time: Date, on connection: PostgresConnection) throws {
        try connection.execute(
            """
            INSERT INTO subscription_states (subscription_id, sequence, valid_from, status, billing_interval, amount, currency)
            VALUES (\(state.subscriptionId), \(sequence), \(time), \(state.status.rawValue), \(state.interval?.rawValue), \(state.amount.map(Int64.init)), \(state.currency))
            ON CONFLICT DO NOTHING
            """)
    }
}
