import Contracts
import Database
import Foundation
import ServiceKit

/// Endpoints, their secrets, the events recorded for delivery and the delivery log.
public struct EndpointStore: Sendable {
    let database: DatabasePool

    public init(database: DatabasePool) {
        self.database = database
    }

    public struct Endpoint: Codable, Sendable, Equatable {
        public var id: String
        public var url: String
        public var description: String
        public var eventTypes: [String]
        public var enabled: Bool
        /// `failing` when the endpoint was disabled for failing past the threshold.
        public var disabledReason: String?
        public var disabledAt: Date?
        public var failingSince: Date?
        public var createdAt: Date
        public var updatedAt: Date
    }

    public struct Draft: Sendable {
        public var url: String
        public var description: String
        public var eventTypes: [String]
        public var enabled: Bool
    }

    public struct Change: Sendable {
        public var url: String?
        public var description: String?
        public var eventTypes: [String]?
        public var enabled: Bool?
    }

    static let columns = "id, url, description, event_types::text AS event_types, enabled, disabled_reason, disabled_at, failing_since, created_at, updated_at"

    static func endpoint(_ row: Row) throws -> Endpoint {
        Endpoint(
            id: try row.decode("id", as: UUID.self).lowercased, url: try row.decode("url"), description: try row.decode("description"),
            eventTypes: try JSONDecoder().decode([String].self, from: Data(try row.decode("event_types", as: String.self).utf8)),
            enabled: try row.decode("enabled"), disabledReason: try row.decode("disabled_reason", as: String?.self),
            disabledAt: try row.decode("disabled_at", as: Date?.self), failingSince: try row.decode("failing_since", as: Date?.self),
            createdAt: try row.decode("created_at"), updatedAt: try row.decode("updated_at"))
    }

    static func json(_ types: [String]) -> String {
        String(decoding: try! JSONEncoder().encode(types), as: UTF8.self)
    }

    /// A new endpoint and its first secret.
    public func create(_ draft: Draft) async throws -> (Endpoint, String) {
        let secret = StandardWebhooks.newSecret()
        return try await database.transaction { connection in
            let id = UUID()
            let row = try connection.query(
                """
                INSERT INTO endpoints (id, url, description, event_types, enabled, disabled_reason, disabled_at)
                VALUES (
                    \(id), \(draft.url), \(draft.description), \(Self.json(draft.eventTypes))::jsonb, \(draft.enabled),
                    CASE WHEN \(draft.enabled) THEN NULL ELSE 'admin' END, CASE WHEN \(draft.enabled) THEN NULL ELSE now() END)
                RETURNING \(unsafeRaw: Self.columns)
                """)[0]
            try connection.execute("INSERT INTO endpoint_secrets (endpoint_id, secret) VALUES (\(id), \(secret))")
            return (try Self.endpoint(row), secret)
        }
    }

    public func list() async throws -> [Endpoint] {
        try await database.query("SELECT \(unsafeRaw: Self.columns) FROM endpoints ORDER BY created_at, id").map(Self.endpoint)
    }

    public func endpoint(_ id: UUID) async throws -> Endpoint {
        guard let row = try await database.query("SELECT \(unsafeRaw: Self.columns) FROM endpoints WHERE id = \(id)").first else {
            throw DomainError.notFound("webhook endpoint")
        }
        return try Self.endpoint(row)
    }

    /// Applies what changed. Enabling a disabled endpoint clears its failure record: what waited
    /// for it is due at once, in order.
    public func update(_ id: UUID, _ change: Change) async throws -> Endpoint {
        try await database.transaction { connection in
            let wasEnabled = try connection.query("SELECT enabled FROM endpoints WHERE id = \(id) FOR UPDATE").first?.decode("enabled", as: Bool.self)
            guard
                let row = try connection.query(
                    """
                    UPDATE endpoints SET
                        url = coalesce(\(change.url), url),
                        description = coalesce(\(change.description), description),
                        event_types = coalesce(\(change.eventTypes.map(Self.json))::jsonb, event_types),
                        enabled = coalesce(\(change.enabled), enabled),
                        disabled_reason = CASE WHEN \(change.enabled) IS TRUE THEN NULL WHEN \(change.enabled) IS FALSE THEN 'admin' ELSE disabled_reason END,
                        disabled_at = CASE WHEN \(change.enabled) IS TRUE THEN NULL WHEN \(change.enabled) IS FALSE AND enabled THEN now() ELSE disabled_at END,
                        failing_since = CASE WHEN \(change.enabled) IS TRUE AND NOT enabled THEN NULL ELSE failing_since END,
                        updated_at = now()
                    WHERE id = \(id)
                    RETURNING \(unsafeRaw: Self.columns)
                    """
                ).first
            else { throw DomainError.notFound("webhook endpoint") }
            if change.enabled == true && wasEnabled == false {
                // What waited is due now, in order.
                try connection.execute("UPDATE deliveries SET next_attempt_at = now() WHERE endpoint_id = \(id) AND status = 'PENDING'")
                try connection.execute("NOTIFY webhook_deliveries")
            }
            return try Self.endpoint(row)
        }
    }

    public func delete(_ id: UUID) async throws {
        let result = try await database.execute("DELETE FROM endpoints WHERE id = \(id)")
        if result.affectedRows == 0 { throw DomainError.notFound("webhook endpoint") }
    }

    public struct Secrets: Codable, Sendable, Equatable {
        public struct Previous: Codable, Sendable, Equatable {
            public var secret: String
            public var expiresAt: Date
        }

        public var secret: String
        /// A rotated-out secret still signing until it expires.
        public var previous: [Previous]
    }

    public func secrets(_ id: UUID) async throws -> Secrets {
        let rows = try await database.query(
            """
            SELECT s.secret, s.expires_at FROM endpoints e JOIN endpoint_secrets s ON s.endpoint_id = e.id
            WHERE e.id = \(id) AND (s.expires_at IS NULL OR s.expires_at > now()) ORDER BY s.created_at DESC
            """)
        guard let current = try rows.first(where: { try $0.decode("expires_at", as: Date?.self) == nil }) else {
            throw DomainError.notFound("webhook endpoint")
        }
        return Secrets(
            secret: try current.decode("secret"),
            previous: try rows.compactMap { row in
                guard let expires = try row.decode("expires_at", as: Date?.self) else { return nil }
                return Secrets.Previous(secret: try row.decode("secret"), expiresAt: expires)
            })
    }

    /// A new current secret; the one it replaces keeps signing beside it for `overlap` seconds.
    public func rotate(_ id: UUID, overlap: TimeInterval = 86400) async throws -> Secrets {
        let secret = StandardWebhooks.newSecret()
        try await database.transaction { connection in
            guard try !connection.query("SELECT 1 FROM endpoints WHERE id = \(id) FOR UPDATE").isEmpty else {
                throw DomainError.notFound("webhook endpoint")
            }
            try connection.execute(
                """
                UPDATE endpoint_secrets SET expires_at = now() + \(Int(overlap)) * interval '1 second'
                WHERE endpoint_id = \(id) AND expires_at IS NULL
                """)
            try connection.execute("DELETE FROM endpoint_secrets WHERE endpoint_id = \(id) AND expires_at <= now()")
            try connection.execute("INSERT INTO endpoint_secrets (endpoint_id, secret) VALUES (\(id), \(secret))")
        }
        return try await secrets(id)
    }

    // MARK: Events and deliveries

    /// Records a published event and queues it for every endpoint that wants it (waiting ones
    /// included: they get it once enabled). An event no endpoint wants is not kept (the archive
    /// has it, for a replay). Inside the consumer's transaction.
    static func record(_ event: RawEvent, on connection: PostgresConnection) throws {
        guard let routingKey = EventType.known(cloudEventType: event.header.type)?.routingKey else { return }
        let endpoints = try connection.query(
            """
            SELECT e.id FROM endpoints e
            WHERE EXISTS (
                SELECT 1 FROM jsonb_array_elements_text(e.event_types) p(pattern)
                WHERE p.pattern = '*' OR p.pattern = \(routingKey)
                   OR (right(p.pattern, 2) = '.*' AND starts_with(\(routingKey), left(p.pattern, -1))))
            ORDER BY e.id
            """
        ).map { try $0.decode("id", as: UUID.self) }
        guard !endpoints.isEmpty else { return }
        let aggregate = event.header.partitionkey ?? event.header.subject ?? event.header.id
        // A deleted user's event that arrives after the deletion (another replica, a retry) is
        // not kept: the deletion already erased what was delivered, and nothing of theirs may
        // come back. The deletion itself is delivered.
        if event.header.type != IdentityUserDeletedV1.eventType.cloudEventType, let user = UUID(uuidString: aggregate),
            try Tombstones.isDeleted(user, on: connection)
        {
            return
        }
        let body = String(decoding: event.body, as: UTF8.self)
        try connection.execute(
            """
            INSERT INTO events (id, routing_key, aggregate, occurred_at, body)
            VALUES (\(event.header.id), \(routingKey), \(aggregate), \(event.header.time), \(body))
            ON CONFLICT (id) DO NOTHING
            """)
        try connection.execute(
            """
            INSERT INTO deliveries (endpoint_id, event_id, aggregate)
            SELECT id, \(event.header.id), \(aggregate) FROM unnest(\(array: endpoints)) AS id ORDER BY id
            """)
        try connection.execute("NOTIFY webhook_deliveries")
    }

    /// Queues a test event for one endpoint: `webhooks.endpoint.test.v1`, delivered to it alone.
    public func sendTest(_ id: UUID, now: Date = Date()) async throws -> String {
        let eventID = UUID().lowercased
        let event: JSONValue = .object([
            "specversion": .string("1.0"), "id": .string(eventID), "source": .string(ServiceName.webhooks.source),
            "type": .string("org.syllabus.webhooks.endpoint.test.v1"), "subject": .string(id.lowercased),
            "time": .string(RFC3339.format(now)), "datacontenttype": .string("application/json"),
            "data": .object(["endpointId": .string(id.lowercased), "message": .string("A test event from Syllabus.")]),
        ])
        let body = String(decoding: try JSONEncoder().encode(event), as: UTF8.self)
        try await database.transaction { connection in
            guard try !connection.query("SELECT 1 FROM endpoints WHERE id = \(id)").isEmpty else { throw DomainError.notFound("webhook endpoint") }
            try connection.execute(
                """
                INSERT INTO events (id, routing_key, aggregate, occurred_at, body)
                VALUES (\(eventID), 'webhooks.endpoint.test.v1', \(id.lowercased), \(now), \(body))
                """)
            try connection.execute("INSERT INTO deliveries (endpoint_id, event_id, aggregate) VALUES (\(id), \(eventID), \(id.lowercased))")
            try connection.execute("NOTIFY webhook_deliveries")
        }
        return eventID
    }

    /// Queues a recorded event again for one endpoint (same `webhook-id`: receivers that
    /// deduplicate see a replay as the event they already have).
    public func replay(eventID: String, to endpoint: UUID) async throws {
        try await database.transaction { connection in
            guard try !connection.query("SELECT 1 FROM endpoints WHERE id = \(endpoint)").isEmpty else { throw DomainError.notFound("webhook endpoint") }
            guard let event = try connection.query("SELECT aggregate FROM events WHERE id = \(eventID)").first else {
                throw DomainError.notFound("event")
            }
            try connection.execute(
                """
                INSERT INTO deliveries (endpoint_id, event_id, aggregate, replay)
                VALUES (\(endpoint), \(eventID), \(try event.decode("aggregate", as: String.self)), true)
                """)
            try connection.execute("NOTIFY webhook_deliveries")
        }
    }

    /// Queues archived events (read from `events.archive`) for one endpoint, in the archive's
    /// order, those of its types only; answers how many.
    public func replay(_ events: [RawEvent], to endpoint: UUID) async throws -> Int {
        try await database.transaction { connection in
            guard let row = try connection.query("SELECT event_types::text AS t FROM endpoints WHERE id = \(endpoint)").first else {
                throw DomainError.notFound("webhook endpoint")
            }
            let patterns = try JSONDecoder().decode([String].self, from: Data(try row.decode("t", as: String.self).utf8))
            var count = 0
            for event in events {
                guard let routingKey = EventType.known(cloudEventType: event.header.type)?.routingKey,
                    EventFilter.matches(patterns, routingKey)
                else { continue }
                let aggregate = event.header.partitionkey ?? event.header.subject ?? event.header.id
                try connection.execute(
                    """
                    INSERT INTO events (id, routing_key, aggregate, occurred_at, body)
                    VALUES (\(event.header.id), \(routingKey), \(aggregate), \(event.header.time), \(String(decoding: event.body, as: UTF8.self)))
                    ON CONFLICT (id) DO NOTHING
                    """)
                try connection.execute(
                    "INSERT INTO deliveries (endpoint_id, event_id, aggregate, replay) VALUES (\(endpoint), \(event.header.id), \(aggregate), true)")
                count += 1
            }
            if count > 0 { try connection.execute("NOTIFY webhook_deliveries") }
            return count
        }
    }

    // MARK: The delivery log

    public struct Attempt: Codable, Sendable, Equatable {
        public var attemptedAt: Date
        /// The HTTP status answered; absent when there was no answer.
        public var status: Int?
        public var durationMs: Int
        public var responseExcerpt: String?
        public var error: String?
    }

    public struct Delivery: Codable, Sendable, Equatable {
        public var id: Int64
        public var endpointId: String
        public var eventId: String
        public var eventType: String
        /// PENDING, SUCCEEDED or FAILED.
        public var status: String
        public var replay: Bool
        public var createdAt: Date
        public var finishedAt: Date?
        public var nextAttemptAt: Date?
        public var attempts: [Attempt]
    }

    /// The newest deliveries first, with their attempts; `endpoint` or `event` (or both) narrow it.
    public func deliveries(endpoint: UUID? = nil, event: String? = nil, limit: Int = 100) async throws -> [Delivery] {
        if let endpoint { _ = try await self.endpoint(endpoint) }
        return try await database.withConnection { connection in
            let rows = try connection.query(
                """
                SELECT d.id, d.endpoint_id, d.event_id, ev.routing_key, d.status, d.replay, d.created_at, d.finished_at, d.next_attempt_at
                FROM deliveries d JOIN events ev ON ev.id = d.event_id
                WHERE (\(endpoint)::uuid IS NULL OR d.endpoint_id = \(endpoint)) AND (\(event)::text IS NULL OR d.event_id = \(event))
                ORDER BY d.id DESC LIMIT \(limit)
                """)
            let ids = try rows.map { try $0.decode("id", as: Int64.self) }
            var attempts: [Int64: [Attempt]] = [:]
            for row in try connection.query(
                """
                SELECT delivery_id, attempted_at, status_code, duration_ms, response_excerpt, error FROM attempts
                WHERE delivery_id = ANY(\(array: ids)) ORDER BY id
                """)
            {
                attempts[try row.decode("delivery_id"), default: []].append(
                    Attempt(
                        attemptedAt: try row.decode("attempted_at"), status: try row.decode("status_code", as: Int?.self),
                        durationMs: try row.decode("duration_ms"), responseExcerpt: try row.decode("response_excerpt", as: String?.self),
                        error: try row.decode("error", as: String?.self)))
            }
            return try rows.map { row in
                let id = try row.decode("id", as: Int64.self)
                let status = try row.decode("status", as: String.self)
                return Delivery(
                    id: id, endpointId: try row.decode("endpoint_id", as: UUID.self).lowercased, eventId: try row.decode("event_id"),
                    eventType: try row.decode("routing_key"), status: status, replay: try row.decode("replay"),
                    createdAt: try row.decode("created_at"), finishedAt: try row.decode("finished_at", as: Date?.self),
                    nextAttemptAt: status == "PENDING" ? try row.decode("next_attempt_at", as: Date?.self) : nil,
                    attempts: attempts[id] ?? [])
            }
        }
    }

    /// Forgets events older than the retention and what was delivered of them.
    public func sweep(olderThan cutoff: Date) async throws -> Int {
        try await database.execute(
            """
            DELETE FROM events ev WHERE ev.received_at < \(cutoff)
              AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = ev.id AND d.status = 'PENDING')
            """
        ).affectedRows
    }
}
