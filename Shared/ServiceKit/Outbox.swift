import Contracts
import Database
import Foundation
import Logging
import MessageBus
import Metrics
import ServiceLifecycle

/// The transactional outbox: an event is written in the same transaction as the state change it
/// describes, and published later by the relay. Nothing is published any other way.
public enum Outbox {
    /// The outbox and inbox tables every service has in its schema.
    public static func migration(version: Int) -> Migration {
        Migration(
            version: version, name: "outbox and inbox",
            sql: """
                CREATE TABLE outbox (
                    id bigserial PRIMARY KEY,
                    event_id uuid NOT NULL UNIQUE,
                    routing_key text NOT NULL,
                    aggregate_id text NOT NULL,
                    sequence bigint NOT NULL CHECK (sequence >= 0),
                    body text NOT NULL,
                    traceparent text,
                    occurred_at timestamptz NOT NULL,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    published_at timestamptz
                );
                CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

                CREATE TABLE inbox (
                    event_id uuid NOT NULL,
                    handler text NOT NULL,
                    event_type text NOT NULL,
                    received_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (event_id, handler)
                );
                """)
    }

    /// What the relay needs beside the first migration: published rows are deleted instead of
    /// marked (the `published_at` column stays for a previous release's relay during a rolling
    /// deploy), a row the broker refuses is retried and then parked with its aggregate held, the
    /// leader row whose epoch fences a deposed relay, and the inbox's retention index.
    public static func relayMigration(version: Int) -> Migration {
        Migration(
            version: version, name: "outbox relay: delete on publish, parking, leader epoch; inbox retention",
            sql: """
                DELETE FROM outbox WHERE published_at IS NOT NULL;
                ALTER TABLE outbox
                    ADD COLUMN attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
                    ADD COLUMN next_attempt_at timestamptz,
                    ADD COLUMN parked_at timestamptz,
                    ADD COLUMN last_error text;
                CREATE INDEX outbox_held ON outbox (aggregate_id, id) WHERE attempts > 0;

                CREATE TABLE outbox_relay (
                    name text PRIMARY KEY,
                    epoch bigint NOT NULL CHECK (epoch > 0),
                    holder text NOT NULL,
                    since timestamptz NOT NULL DEFAULT now()
                );

                CREATE INDEX inbox_received_at ON inbox (received_at);
                """)
    }

    /// Both outbox migrations, from `version` on (for schemas that only hold the bus's tables).
    public static func migrations(from version: Int) -> [Migration] {
        [migration(version: version), relayMigration(version: version + 1)]
    }

    /// The NOTIFY channel that wakes a service's relay on another replica.
    public static func channel(for service: ServiceName) -> String { "outbox_\(service.rawValue)" }

    /// Writes `event` into the outbox inside the caller's transaction. Once that transaction has
    /// committed, the relay of this process is woken (and, when it is not the leader, it tells the
    /// leader with one NOTIFY, sent outside the producing transaction: a NOTIFY inside it would
    /// serialise the commits of every notifying transaction of the cluster).
    ///
    /// An event made within a traced request or event carries that trace's context (`traceparent`)
    /// in its envelope, the row and the AMQP headers, so its consumers continue the trace.
    public static func enqueue<E: DomainEvent>(_ event: CloudEvent<E>, on connection: PostgresConnection) throws {
        var event = event
        if event.traceparent == nil { event.traceparent = connection.traceparent }
        let body = String(decoding: try EventCoding.encode(event), as: UTF8.self)
        guard let id = UUID(uuidString: event.id) else { throw OutboxError.invalidEventID(event.id) }
        try connection.execute(
            """
            INSERT INTO outbox (event_id, routing_key, aggregate_id, sequence, body, traceparent, occurred_at)
            VALUES (\(id), \(E.eventType.routingKey), \(event.subject), \(event.sequenceNumber), \(body), \(event.traceparent), \(event.time))
            """)
        let schema = connection.searchPath ?? E.eventType.producer.rawValue
        connection.afterCommit(key: "outbox") { OutboxWakeups.committed(schema: schema) }
    }
}

/// The relays of this process, by schema, so that a committed outbox row wakes its relay at once.
enum OutboxWakeups {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var relays: [String: [ObjectIdentifier: OutboxRelay]] = [:]

    static func register(_ relay: OutboxRelay, schema: String) {
        lock.withLock { relays[schema, default: [:]][ObjectIdentifier(relay)] = relay }
    }

    static func unregister(_ relay: OutboxRelay, schema: String) {
        lock.withLock { _ = relays[schema]?.removeValue(forKey: ObjectIdentifier(relay)) }
    }

    static func committed(schema: String) {
        for relay in lock.withLock({ Array((relays[schema] ?? [:]).values) }) { relay.committed() }
    }
}

public enum OutboxError: Error {
    case invalidEventID(String)
}

