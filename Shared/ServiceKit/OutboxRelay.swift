import Contracts
import Database
import Foundation
import Logging
import MessageBus
import Metrics
import ServiceLifecycle
import Tracing

/// Publishes a service's outbox, one leader per service.
///
/// - **Leadership.** Replicas compete for an advisory lock; the one that gets it raises the
///   epoch of the service's `outbox_relay` row. Every batch's own transaction checks that epoch
///   (and holds the row, so a new leader waits for it), so a relay whose connection was replaced
///   under it, or that lost the lock to another replica, stops at its next batch: two relays
///   never keep publishing side by side.
/// - **Pipeline.** While the broker confirms batch *k*, one transaction deletes the rows of batch
///   *k−1* it confirmed, records the ones it refused, and fetches batch *k+1*. Batches are
///   published one after another on one channel, so rows leave in outbox order; within a batch,
///   a row goes only once the row before it of the same aggregate is confirmed (rows of different
///   aggregates are in flight together), so no row ever overtakes a refused one of its aggregate.
/// - **Refusals.** A row the broker nacks or returns is retried after a delay that doubles with
///   each refusal, up to five minutes (a wake-up does not cut it short), so that a broker node's
///   failover, whose queues refuse publishes for up to a minute, is ridden out (the publisher
///   sends the batch after a refusal on a fresh connection: see `AMQPPublisher`); it is parked after
///   `maxAttempts` (with the defaults, about twenty minutes of refusals); rows of the same aggregate wait behind
///   it, everything else goes on. `syllabus outbox list|release` shows and frees parked rows.
/// - Published rows are deleted: the outbox holds only what is still to be sent.
public final class OutboxRelay: Service, Sendable {
    public let service: ServiceName
    private let database: DatabasePool
    private let listenURL: String
    private let schema: String
    private let lockName: String
    private let holder: String
    private let publisher: AMQPPublisher
    private let logger: Logger
    private let batchSize: Int
    private let pollInterval: Duration
    /// How long a refused row waits before its first retry; each further refusal doubles it (at most 300 s).
    public let retryDelay: Duration
    /// Attempts after which a refused row is parked.
    public let maxAttempts: Int
    private let wake = WakeSignal()
    private let state = RelayState()
    private let notifier = CoalescedAction()
    private let published: Counter
    private let failures: Counter
    private let refused: Counter
    private let parked: Counter
    private let backlogGauge: Gauge
    private let oldestAge: Gauge

    /// - Parameters:
    ///   - databaseURL: the service's runtime connection; the relay opens one connection for its
    ///     batches and one for LISTEN.
    ///   - searchPath: the schema holding the outbox (the service's own by default).
    ///   - lockName: what replicas compete for (the schema by default).
    public init(
        service: ServiceName, databaseURL: String, searchPath: String? = nil, lockName: String? = nil,
        publisher: AMQPPublisher, batchSize: Int = 500, pollInterval: Duration = .seconds(1),
        retryDelay: Duration = .seconds(5), maxAttempts: Int = 10, logger: Logger
    ) {
        self.service = service
        let schema = searchPath ?? service.rawValue
        self.schema = schema
        self.database = DatabasePool(url: databaseURL, size: 1, searchPath: schema, name: "\(service.rawValue)-relay", logger: logger)
        self.listenURL = databaseURL
        self.lockName = lockName ?? schema
        self.holder = "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)"
        self.publisher = publisher
        self.batchSize = max(1, batchSize)
        self.pollInterval = pollInterval
        self.retryDelay = retryDelay
        self.maxAttempts = max(1, maxAttempts)
        self.logger = logger
        let dimensions = [("service", service.rawValue)]
        self.published = Counter(label: "outbox_events_published_total", dimensions: dimensions)
        self.failures = Counter(label: "outbox_publish_failures_total", dimensions: dimensions)
        self.refused = Counter(label: "outbox_events_refused_total", dimensions: dimensions)
        self.parked = Counter(label: "outbox_events_parked_total", dimensions: dimensions)
        self.backlogGauge = Gauge(label: "outbox_backlog_events", dimensions: dimensions)
        self.oldestAge = Gauge(label: "outbox_oldest_event_age_seconds", dimensions: dimensions)
    }

    /// Whether this replica leads now.
    public var isLeader: Bool { state.leader == true }

    /// Whether this replica has found another leading and is waiting.
    public var isStandingBy: Bool { state.leader == false }

    /// Rows waiting to be published, parked ones included (for readiness and tests).
    public func backlog() async throws -> Int {
        try await database.withConnection { connection in
            try connection.query("SELECT count(*) AS n FROM outbox WHERE published_at IS NULL").first?.decode("n", as: Int.self) ?? 0
        }
    }

    /// Rows parked after the broker refused them `maxAttempts` times.
    public func parkedCount() async throws -> Int {
        try await database.withConnection { connection in
            try connection.query("SELECT count(*) AS n FROM outbox WHERE parked_at IS NOT NULL").first?.decode("n", as: Int.self) ?? 0
        }
    }

    public func run() async throws {
        let listener = PostgresListener(url: listenURL, channels: [Outbox.channel(for: service)], name: "\(service.rawValue)-relay", logger: logger)
        let wake = self.wake
        OutboxWakeups.register(self, schema: schema)
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await _ in listener.events { wake.signal() }
            }
            group.addTask { await self.measure() }
            await cancelWhenGracefulShutdown {
                await self.loop()
            }
            listener.stop()
            group.cancelAll()
        }
        OutboxWakeups.unregister(self, schema: schema)
        database.shutdown()
    }

    /// Every 10 s, the backlog and the age of its oldest row, parked ones included (every replica
    /// measures, leader or not: a backlog that no relay publishes is what the gauges are for).
    private func measure() async {
        while !Task.isCancelled {
            if let row = try? await database.withConnection({ connection in
                try connection.query(
                    """
                    SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS age
                    FROM outbox WHERE published_at IS NULL
                    """
                ).first
            }) {
                if let count = try? row.decode("n", as: Int.self) { backlogGauge.record(count) }
                if let age = try? row.decode("age", as: Double.self) { oldestAge.record(age) }
            }
            try? await Task.sleep(for: .seconds(10))
        }
    }

    /// A transaction of this process that wrote to the outbox has committed: wake the relay, and
    /// when another replica leads, tell it with one NOTIFY (coalesced: one in flight at a time).
    func committed() {
        wake.signal()
        guard state.leader != true else { return }
        let database = self.database
        let channel = Outbox.channel(for: service)
        notifier.run { _ = try? await database.execute("SELECT pg_notify(\(channel), '')") }
    }

    private func loop() async {
        var backoff: Duration = .milliseconds(100)
        var epoch: Int64?
        while !Task.isCancelled {
            do {
                if epoch == nil {
                    epoch = try await lead()
                    guard epoch != nil else {
                        await wake.wait(timeout: .seconds(2))
                        continue
                    }
                }
                try await pump(epoch: epoch!)
            } catch is Deposed {
                epoch = nil
                state.leader = false
                logger.info("outbox relay was deposed by another replica; standing by", metadata: ["service": "\(lockName)"])
            } catch {
                if Task.isCancelled { break }
                failures.increment()
                logger.warning("outbox relay could not publish, retrying", metadata: ["error": "\(error)", "backoff": "\(backoff)"])
                // Not cut short by commits: a broker or database that is away is not back sooner.
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(5))
            }
        }
    }

    /// Takes the lock and raises the epoch; nil when another replica holds the lock.
    private func lead() async throws -> Int64? {
        let name = lockName
        let holder = self.holder
        let epoch: Int64? = try await database.withConnection { connection in
            guard try connection.query("SELECT pg_try_advisory_lock(7421, hashtext(\(name))) AS leader").first?.decode("leader", as: Bool.self) == true
            else { return nil }
            return try connection.transaction { connection in
                // Rows a previous release's relay marked published and kept.
                try connection.execute("DELETE FROM outbox WHERE published_at IS NOT NULL")
                return try connection.query(
                    """
                    INSERT INTO outbox_relay (name, epoch, holder) VALUES (\(name), 1, \(holder))
                    ON CONFLICT (name) DO UPDATE SET epoch = outbox_relay.epoch + 1, holder = excluded.holder, since = now()
                    RETURNING epoch
                    """
                ).first?.decode("epoch", as: Int64.self)
            }
        }
        if (epoch != nil) != (state.leader ?? (epoch == nil)) {
            logger.info(epoch != nil ? "outbox relay is active" : "outbox relay is standing by", metadata: ["service": "\(name)", "epoch": "\(epoch ?? 0)"])
        }
        state.leader = epoch != nil
        return epoch
    }

    /// Publishes until cancelled, deposed, or an error; see the type's description.
    private func pump(epoch: Int64) async throws {
        var settled = Settlement()
        var next = try await exchange(epoch: epoch, settling: settled, excluding: nil)
        settled = Settlement()
        while !Task.isCancelled {
            guard !next.isEmpty else {
                // What was confirmed is forgotten at once; then wait for more.
                if settled.confirmed.isEmpty && settled.refused.isEmpty { await wake.wait(timeout: pollInterval) }
                next = try await exchange(epoch: epoch, settling: settled, excluding: nil)
                settled = Settlement()
                continue
            }
            let current = next
            let publisher = self.publisher
            let messages = current.map(\.message)
            let spans = Self.publishSpans(for: current)
            async let outcomes = publisher.publish(messages, orderingHeader: "partitionkey")
            let ids = current.map(\.id)
            let fetched = try await exchange(epoch: epoch, settling: settled, excluding: ids.min()!...ids.max()!)
            settled = Settlement()
            let results: [PublishOutcome]
            do {
                results = try await outcomes
            } catch {
                for span in spans { span?.recordError(error); span?.end() }
                throw error
            }
            for (span, outcome) in zip(spans, results) {
                guard let span else { continue }
                if outcome != .confirmed { span.setStatus(SpanStatus(code: .error, message: "\(outcome)")) }
                span.end()
            }
            var held = Set<String>()
            for (row, outcome) in zip(current, results) {
                switch outcome {
                case .confirmed:
                    settled.confirmed.append(row.id)
                case .held:
                    // Behind a refused row of its aggregate: not sent, not an attempt.
                    held.insert(row.aggregateID)
                case .nacked, .returned:
                    settled.refused.append((row.id, "\(outcome)"))
                    held.insert(row.aggregateID)
                    logger.warning(
                        "the broker refused an outbox row; it will be retried",
                        metadata: ["routingKey": "\(row.message.routingKey)", "eventId": "\(row.message.properties.messageID ?? "-")", "outcome": "\(outcome)"])
                }
            }
            published.increment(by: settled.confirmed.count)
            if !settled.refused.isEmpty { refused.increment(by: settled.refused.count) }
            // Rows of a refused row's aggregate wait behind it.
            next = held.isEmpty ? fetched : fetched.filter { !held.contains($0.aggregateID) }
        }
        _ = try? await exchange(epoch: epoch, settling: settled, fetch: false)
    }

    /// A span per traced row, from the send to the broker's answer: a child of the context the
    /// event was made in, as OpenTelemetry's messaging conventions have a publisher's span.
    static func publishSpans(for rows: [PendingRow]) -> [(any Span)?] {
        guard TraceContext.isRecording else { return [] }
        return rows.map { row in
            guard let traceparent = row.traceparent else { return nil }
            let message = row.message
            let span = InstrumentationSystem.tracer.startAnySpan(
                "publish \(message.exchange)", context: TraceContext.context(traceparent: traceparent), ofKind: .producer)
            span.attributes["messaging.system"] = "rabbitmq"
            span.attributes["messaging.operation.type"] = "send"
            span.attributes["messaging.destination.name"] = message.exchange
            span.attributes["messaging.rabbitmq.destination.routing_key"] = message.routingKey
            span.attributes["messaging.message.id"] = message.properties.messageID ?? ""
            return span
        }
    }

    struct Settlement {
        var confirmed: [Int64] = []
        var refused: [(id: Int64, reason: String)] = []
    }

    struct PendingRow: Sendable {
        let id: Int64
        let aggregateID: String
        let message: OutgoingMessage
        /// The context of the trace the event was made in, when it was traced.
        let traceparent: String?
    }

    /// One transaction, fenced by the epoch: forget what was confirmed, record what was refused,
    /// and fetch the next rows that may go (not parked, due, and not behind a held row of their
    /// aggregate), leaving out the rows in flight.
    private func exchange(
        epoch: Int64, settling settled: Settlement, excluding inFlight: ClosedRange<Int64>? = nil, fetch: Bool = true
    ) async throws -> [PendingRow] {
        // The rows in flight, as the range of their ids: a range keeps the plan an ordered index
        // scan that stops after `limit` rows (an array of ids makes the planner misjudge the
        // filter and sort the whole backlog). A row committed late inside the range waits for
        // the next fetch.
        let (low, high) = inFlight.map { ($0.lowerBound, $0.upperBound) } ?? (0, -1)
        let name = lockName
        let limit = batchSize
        let service = self.service
        let delay = retryDelay.timeInterval
        let maxAttempts = self.maxAttempts
        let confirmed = settled.confirmed
        let refusedRows = settled.refused
        let (rows, parkedNow) = try await database.transaction { connection -> ([PendingRow], Int) in
            // Nothing here needs to survive a crash: a lost delete republishes (consumers
            // deduplicate), a lost attempt count retries once more. No fsync to wait for.
            try connection.executeScript("SET LOCAL synchronous_commit TO off")
            guard try !connection.query("SELECT 1 AS held FROM outbox_relay WHERE name = \(name) AND epoch = \(epoch) FOR SHARE").isEmpty else {
                throw Deposed()
            }
            if !confirmed.isEmpty {
                try connection.execute("DELETE FROM outbox WHERE id = ANY(\(array: confirmed))")
            }
            var parkedNow = 0
            for row in refusedRows {
                let parked = try connection.query(
                    """
                    UPDATE outbox SET attempts = attempts + 1, last_error = \(String(row.reason.prefix(500))),
                        next_attempt_at = now() + make_interval(secs => least(\(delay) * power(2, attempts), 300)),
                        parked_at = CASE WHEN attempts + 1 >= \(maxAttempts) THEN now() END
                    WHERE id = \(row.id)
                    RETURNING parked_at IS NOT NULL AS parked
                    """
                ).first?.decode("parked", as: Bool.self) ?? false
                if parked { parkedNow += 1 }
            }
            guard fetch else { return ([], parkedNow) }
            let rows = try connection.query(
                """
                SELECT o.id, o.event_id, o.routing_key, o.aggregate_id, o.body, o.traceparent, o.occurred_at
                FROM outbox o
                WHERE o.published_at IS NULL AND o.parked_at IS NULL
                  AND (o.attempts = 0 OR o.next_attempt_at <= now())
                  AND (o.id < \(low) OR o.id > \(high))
                  AND NOT EXISTS (SELECT 1 FROM outbox h WHERE h.attempts > 0 AND h.aggregate_id = o.aggregate_id AND h.id < o.id)
                ORDER BY o.id LIMIT \(limit)
                """)
            return (try rows.map { row in
                PendingRow(
                    id: try row.decode("id", as: Int64.self), aggregateID: try row.decode("aggregate_id", as: String.self),
                    message: try Self.message(service: service, row: row), traceparent: try row.decode("traceparent", as: String?.self))
            }, parkedNow)
        }
        if parkedNow > 0 {
            parked.increment(by: parkedNow)
            logger.error("outbox rows parked after \(maxAttempts) refusals; their aggregates wait (syllabus outbox list|release)", metadata: ["count": "\(parkedNow)"])
        }
        return rows
    }

    private static func message(service: ServiceName, row: Row) throws -> OutgoingMessage {
        message(
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

/// The outbox's parked rows, for operators: list them and release them (after fixing what the
/// broker refused), in the service's schema.
public enum ParkedOutbox {
    public struct Entry: Sendable {
        public let id: Int64
        public let eventID: UUID
        public let routingKey: String
        public let aggregateID: String
        public let attempts: Int
        public let parkedAt: Date?
        public let lastError: String?
    }

    /// Rows held back: parked, or waiting to be retried.
    public static func list(on connection: PostgresConnection) throws -> [Entry] {
        try connection.query(
            """
            SELECT id, event_id, routing_key, aggregate_id, attempts, parked_at, last_error
            FROM outbox WHERE attempts > 0 ORDER BY id
            """
        ).map { row in
            Entry(
                id: try row.decode("id", as: Int64.self), eventID: try row.decode("event_id", as: UUID.self),
                routingKey: try row.decode("routing_key", as: String.self), aggregateID: try row.decode("aggregate_id", as: String.self),
                attempts: try row.decode("attempts", as: Int.self), parkedAt: try row.decode("parked_at", as: Date?.self),
                lastError: try row.decode("last_error", as: String?.self))
        }
    }

    /// Releases the parked rows with these event ids (all parked rows when empty): they are tried
    /// again at once, and their aggregates follow. Returns how many were released; wakes the relay.
    @discardableResult
    public static func release(_ eventIDs: [UUID], service: ServiceName, on connection: PostgresConnection) throws -> Int {
        let released = try connection.execute(
            """
            UPDATE outbox SET attempts = 0, parked_at = NULL, next_attempt_at = NULL, last_error = NULL
            WHERE parked_at IS NOT NULL AND (cardinality(\(array: eventIDs)) = 0 OR event_id = ANY(\(array: eventIDs)))
            """
        ).affectedRows
        try connection.execute("SELECT pg_notify(\(Outbox.channel(for: service)), '')")
        return released
    }
}

/// The epoch of the relay's leader row moved on: another replica leads now.
struct Deposed: Error {}

/// Runs an async action, one at a time: a request while one runs makes it run once more after.
final class CoalescedAction: @unchecked Sendable {
    private let lock = NSLock()
    private var running = false
    private var again = false

    func run(_ action: @escaping @Sendable () async -> Void) {
        let start: Bool = lock.withLock {
            if running {
                again = true
                return false
            }
            running = true
            return true
        }
        guard start else { return }
        Task {
            repeat {
                lock.withLock { again = false }
                await action()
            } while lock.withLock({
                if again { return true }
                running = false
                return false
            })
        }
    }
}

final class RelayState: @unchecked Sendable {
    private let lock = NSLock()
    private var _leader: Bool?
    /// nil until the first attempt, then whether this replica leads.
    var leader: Bool? {
        get { lock.withLock { _leader } }
        set { lock.withLock { _leader = newValue } }
    }
}
