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

    /// The NOTIFY channel that wakes a service's relay.
    public static func channel(for service: ServiceName) -> String { "outbox_\(service.rawValue)" }

    /// Writes `event` into the outbox inside the caller's transaction and wakes the relay when
    /// that transaction commits.
    public static func enqueue<E: DomainEvent>(_ event: CloudEvent<E>, on connection: PostgresConnection) throws {
        let body = String(decoding: try EventCoding.encode(event), as: UTF8.self)
        guard let id = UUID(uuidString: event.id) else { throw OutboxError.invalidEventID(event.id) }
        // One round trip: the row, and the NOTIFY that Postgres delivers when the caller commits.
        try connection.execute(
            """
            WITH inserted AS (
                INSERT INTO outbox (event_id, routing_key, aggregate_id, sequence, body, traceparent, occurred_at)
                VALUES (\(id), \(E.eventType.routingKey), \(event.subject), \(event.sequenceNumber), \(body), \(event.traceparent), \(event.time))
                RETURNING id
            )
            SELECT pg_notify(\(channel(for: E.eventType.producer)), '') FROM inserted
            """)
    }
}

public enum OutboxError: Error {
    case invalidEventID(String)
}

/// Publishes a service's outbox in order, one active relay per service: replicas compete for an
/// advisory lock held by the relay's own connection, and the holder publishes. Rows are marked
/// published only after the broker confirmed them; a batch that is not wholly confirmed is
/// published again from its first unconfirmed row (consumers deduplicate by event id).
public final class OutboxRelay: Service, Sendable {
    public let service: ServiceName
    private let database: DatabasePool
    private let listenURL: String
    private let lockName: String
    private let publisher: AMQPPublisher
    private let logger: Logger
    private let batchSize: Int
    private let pollInterval: Duration
    private let wake = WakeSignal()
    private let state = RelayState()
    private let published: Counter
    private let failures: Counter

    /// - Parameters:
    ///   - databaseURL: the service's runtime connection; the relay opens one connection for its
    ///     lock and batches and one for LISTEN.
    ///   - searchPath: the schema holding the outbox (the service's own by default).
    ///   - lockName: what replicas compete for (the schema by default).
    public init(
        service: ServiceName, databaseURL: String, searchPath: String? = nil, lockName: String? = nil,
        publisher: AMQPPublisher, batchSize: Int = 500, pollInterval: Duration = .seconds(1), logger: Logger
    ) {
        self.service = service
        let schema = searchPath ?? service.rawValue
        self.database = DatabasePool(url: databaseURL, size: 1, searchPath: schema, name: "\(service.rawValue)-relay", logger: logger)
        self.listenURL = databaseURL
        self.lockName = lockName ?? schema
        self.publisher = publisher
        self.batchSize = batchSize
        self.pollInterval = pollInterval
        self.logger = logger
        self.published = Counter(label: "outbox_events_published_total", dimensions: [("service", service.rawValue)])
        self.failures = Counter(label: "outbox_publish_failures_total", dimensions: [("service", service.rawValue)])
    }

    /// Whether this replica holds the relay lock now.
    public var isLeader: Bool { state.leader == true }

    /// Whether this replica has found the lock held by another and is waiting.
    public var isStandingBy: Bool { state.leader == false }

    /// Rows waiting to be published (for readiness and tests).
    public func backlog() async throws -> Int {
        try await database.withConnection { connection in
            try connection.query("SELECT count(*) AS n FROM outbox WHERE published_at IS NULL").first?.decode("n", as: Int.self) ?? 0
        }
    }

    public func run() async throws {
        let listener = PostgresListener(url: listenURL, channels: [Outbox.channel(for: service)], name: "\(service.rawValue)-relay", logger: logger)
        let wake = self.wake
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await _ in listener.events { wake.signal() }
            }
            await cancelWhenGracefulShutdown {
                await self.loop()
            }
            listener.stop()
            group.cancelAll()
        }
        database.shutdown()
    }

    private func loop() async {
        var backoff: Duration = .milliseconds(100)
        while !Task.isCancelled {
            do {
                guard try await acquireLeadership() else {
                    await wake.wait(timeout: .seconds(2))
                    continue
                }
                let sent = try await publishBatch()
                backoff = .milliseconds(100)
                if sent < batchSize { await wake.wait(timeout: pollInterval) }
            } catch {
                failures.increment()
                logger.warning("outbox relay could not publish, retrying", metadata: ["error": "\(error)", "backoff": "\(backoff)"])
                await wake.wait(timeout: backoff)
                backoff = min(backoff * 2, .seconds(5))
            }
        }
    }

    /// Takes the relay lock (or confirms it is still held by this connection).
    private func acquireLeadership() async throws -> Bool {
        let schema = lockName
        let leader = try await database.withConnection { connection in
            try connection.query(
                """
                SELECT CASE WHEN EXISTS (
                    SELECT 1 FROM pg_locks
                    WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted
                      AND classid = 7421::oid AND objid = hashtext(\(schema))::oid AND objsubid = 2
                ) THEN true ELSE pg_try_advisory_lock(7421, hashtext(\(schema))) END AS leader
                """
            ).first?.decode("leader", as: Bool.self) ?? false
        }
        if leader != (state.leader ?? !leader) {
            logger.info(leader ? "outbox relay is active" : "outbox relay is standing by", metadata: ["service": "\(schema)"])
        }
        state.leader = leader
        return leader
    }

    /// Publishes the oldest unpublished rows; returns how many were confirmed.
    private func publishBatch() async throws -> Int {
        let limit = batchSize
        let rows = try await database.withConnection { connection in
            try connection.query(
                """
                SELECT id, event_id, routing_key, aggregate_id, body, traceparent, occurred_at
                FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT \(limit)
                """)
        }
        if rows.isEmpty { return 0 }
        var ids: [Int64] = []
        var messages: [OutgoingMessage] = []
        for row in rows {
            ids.append(try row.decode("id", as: Int64.self))
            messages.append(try message(from: row))
        }
        let outcomes = try await publisher.publish(messages)
        let confirmed = outcomes.prefix { $0 == .confirmed }.count
        if confirmed > 0 {
            let done = Array(ids.prefix(confirmed))
            let privateKeys = self.privateRoutingKeys
            try await database.withConnection { connection in
                try connection.execute("UPDATE outbox SET published_at = now() WHERE id = ANY(\(array: done))")
                // A private message may carry a secret (a reset link): once the broker has it, the
                // outbox keeps nothing of it.
                if !privateKeys.isEmpty {
                    try connection.execute("DELETE FROM outbox WHERE id = ANY(\(array: done)) AND routing_key = ANY(\(array: privateKeys))")
                }
            }
            published.increment(by: confirmed)
        }
        if confirmed < outcomes.count {
            throw RelayError.notConfirmed(routingKey: messages[confirmed].routingKey, outcome: outcomes[confirmed])
        }
        return confirmed
    }

    /// The routing keys of the service's private types.
    private var privateRoutingKeys: [String] {
        EventCatalog.all.filter { $0.producer == service && $0.visibility == .private }.map(\.routingKey)
    }

    private func message(from row: Row) throws -> OutgoingMessage {
        try Self.message(
            service: service, routingKey: try row.decode("routing_key", as: String.self), eventID: try row.decode("event_id", as: UUID.self),
            aggregateID: try row.decode("aggregate_id", as: String.self), traceparent: try row.decode("traceparent", as: String?.self),
            occurredAt: try row.decode("occurred_at", as: Date.self), body: Array(try row.decode("body", as: String.self).utf8))
    }

    /// The message the relay publishes for one outbox row: to the producer's exchange (its private
    /// one for a private type), persistent, `mandatory`, with the CloudEvents attributes as AMQP
    /// properties and the partition key (and trace context) as headers. The bench's baselines
    /// publish exactly these.
    public static func message(
        service: ServiceName, routingKey: String, eventID: UUID, aggregateID: String, traceparent: String?, occurredAt: Date, body: [UInt8]
    ) -> OutgoingMessage {
        // A private type goes to the producer's private exchange, everything else to its public one.
        let exchange = EventType.known(routingKey: routingKey)?.exchange ?? service.exchange
        var headers: AMQPTable = ["partitionkey": .string(aggregateID)]
        if let traceparent { headers["traceparent"] = .string(traceparent) }
        return OutgoingMessage(
            exchange: exchange,
            routingKey: routingKey,
            body: body,
            properties: AMQPProperties(
                contentType: "application/cloudevents+json",
                messageID: eventID.lowercased,
                type: "org.syllabus.\(routingKey)",
                appID: service.rawValue,
                timestamp: UInt64(max(0, occurredAt.timeIntervalSince1970)),
                persistent: true,
                headers: headers),
            mandatory: true)
    }
}

enum RelayError: Error, CustomStringConvertible {
    case notConfirmed(routingKey: String, outcome: PublishOutcome)

    var description: String {
        switch self {
        case .notConfirmed(let key, let outcome): "\(key) was not confirmed: \(outcome)"
        }
    }
}

final class RelayState: @unchecked Sendable {
    private let lock = NSLock()
    private var _leader: Bool?
    /// nil until the first attempt, then whether this replica holds the lock.
    var leader: Bool? {
        get { lock.withLock { _leader } }
        set { lock.withLock { _leader = newValue } }
    }
}
