import Contracts
import Database
import Foundation
import Logging
import MessageBus
import Metrics
import ServiceLifecycle
import Tracing

/// How a service reacts to one event type. The handler runs inside the inbox transaction: its
/// writes and the `(event id, handler)` row commit together, so a redelivered event is a no-op.
public struct EventHandler: Sendable {
    public let name: String
    public let eventType: EventType
    /// Decodes the whole envelope once; the handlers of one type share what it returns.
    let decode: @Sendable ([UInt8]) throws -> DecodedEvent
    let apply: @Sendable (DecodedEvent, PostgresConnection) throws -> Void

    /// - Parameters:
    ///   - name: stable name of the handler (the inbox key); renaming it replays events.
    public init<E: DomainEvent>(_ type: E.Type, name: String, _ body: @escaping @Sendable (CloudEvent<E>, PostgresConnection) throws -> Void) {
        self.name = name
        self.eventType = E.eventType
        self.decode = { bytes in
            let event = try EventCoding.decode(CloudEvent<E>.self, from: bytes)
            return DecodedEvent(id: event.id, source: event.source, type: event.type, event: event, body: bytes)
        }
        self.apply = { decoded, connection in
            // Decoded by another handler of the type (one that reads the envelope only): read it
            // as this one needs it.
            guard let event = decoded.event as? CloudEvent<E> ?? (try? EventCoding.decode(CloudEvent<E>.self, from: decoded.body)) else {
                throw ConsumeFailure.undecodable("not a \(E.eventType.cloudEventType)")
            }
            try body(event, connection)
        }
    }
}

/// An event passed on as it came: its attributes and the envelope's bytes, its data unread.
public struct RawEvent: Sendable {
    public let header: CloudEventHeader
    /// The whole CloudEvent, as published.
    public let body: [UInt8]

    public init(header: CloudEventHeader, body: [UInt8]) {
        self.header = header
        self.body = body
    }
}

extension EventHandler {
    /// A handler of `eventType` that does not decode the data (it forwards or stores the event).
    public init(raw eventType: EventType, name: String, _ body: @escaping @Sendable (RawEvent, PostgresConnection) throws -> Void) {
        self.name = name
        self.eventType = eventType
        self.decode = { bytes in
            let header = try EventCoding.decode(CloudEventHeader.self, from: bytes)
            return DecodedEvent(id: header.id, source: header.source, type: header.type, event: RawEvent(header: header, body: bytes), body: bytes)
        }
        self.apply = { decoded, connection in
            if let event = decoded.event as? RawEvent { return try body(event, connection) }
            guard let header = try? EventCoding.decode(CloudEventHeader.self, from: decoded.body) else {
                throw ConsumeFailure.undecodable("not an envelope")
            }
            try body(RawEvent(header: header, body: decoded.body), connection)
        }
    }
}

/// An envelope decoded once, with the attributes the consumer judges it by.
struct DecodedEvent: @unchecked Sendable {
    let id: String
    let source: String
    let type: String
    /// The typed `CloudEvent<E>` (or a `RawEvent`); immutable once decoded.
    let event: Any
    /// The envelope as it came.
    let body: [UInt8]
}

/// Why a message could not be handled. An undecodable event can never succeed and goes to the
/// dead-letter queue at once; anything else is retried.
public enum ConsumeFailure: Error, CustomStringConvertible {
    case undecodable(String)

    public var description: String {
        switch self {
        case .undecodable(let reason): "undecodable event: \(reason)"
        }
    }
}

/// Whether a delivery is believed, judged only by what no other broker user can choose: the
/// exchange it came through (the broker's permissions decide who may write to which), checked
/// against the envelope's `source` and `type`.
///
/// 1. Through the consumer's own retry exchange: a retry or an operator's redrive of a message
///    that was judged when it first arrived — handled as its original.
/// 2. Through `<p>.events` or `<p>.private`, with `source` `/syllabus/<p>` and a `type` under
///    `org.syllabus.<p>.` (and a known type on the exchange its visibility names): genuine.
/// 3. Anything else is forged: quarantined, never applied, never redriven.
public enum Provenance: Equatable, Sendable {
    case ownRetry
    case genuine(ServiceName)
    case forged(String)

    public static func judge(exchange: String, retryExchange: String, source: String, type: String) -> Provenance {
        if exchange == retryExchange { return .ownRetry }
        guard let producer = ServiceName.producer(ofExchange: exchange) else {
            return .forged("came through \(exchange.isEmpty ? "the default exchange" : exchange), no producer's exchange")
        }
        guard source == producer.source else { return .forged("source \(source) on \(exchange)") }
        guard type.hasPrefix(producer.typePrefix) else { return .forged("type \(type) on \(exchange)") }
        if let known = EventType.known(cloudEventType: type), known.exchange != exchange {
            return .forged("\(known.visibility.rawValue) type \(type) on \(exchange)")
        }
        return .genuine(producer)
    }
}

/// Consumes a service's queue and applies events through the inbox, in batches.
///
/// Deliveries go to `lanes` lanes by aggregate (events of one aggregate share a lane and keep
/// their order). A lane takes what has arrived, up to `batchSize`, and applies it in one
/// transaction: the inbox rows of the whole batch in one statement, the handlers only for the new
/// ones, each event under a savepoint so that one failure does not undo the others, one COMMIT;
/// then the broker gets one cumulative acknowledgement (see `AMQPConsumer`).
///
/// Only believed messages are applied (see `Provenance`): a forged one goes to `<queue>.dlq` marked
/// `forged`; a genuine one of a type this version has no handler for is acknowledged and counted.
/// A failing event never blocks the queue: it is republished through the queue's retry exchange to
/// the tier its attempt calls for (a queue whose messages wait, then come back to this queue only)
/// and acknowledged; after the policy's last attempt, or at once when it can never succeed
/// (undecodable), it goes to `<queue>.dlq` with the failure in its headers. Republishing is confirmed before the
/// original is acknowledged, so a crash in between duplicates an event (the inbox absorbs it)
/// but never loses one. Inbox rows older than `inboxRetention` are deleted.
public final class EventConsumerService: Service, Sendable {
    public let service: ServiceName
    public let queue: String
    private let consumer: AMQPConsumer
    private let publisher: AMQPPublisher
    private let database: DatabasePool
    private let handlers: [String: [EventHandler]]
    private let retry: RetryPolicy
    private let laneCount: Int
    /// The most events one transaction applies.
    public let batchSize: Int
    private let inboxRetention: Duration
    private let amqpURL: String
    private let logger: Logger
    private let unknown: Counter
    private let forged: Counter
    private let batches: Counter
    private let queueDepth: Gauge
    private let deadLetterDepth: Gauge
    private let metrics: HandlerMetrics
    private let tally = Tally()

    /// - Parameters:
    ///   - queue: the queue to consume; the service's own (`<service>`) by default. Its retry
    ///     tiers and dead-letter queue are named after it.
    ///   - prefetch: deliveries in flight; `lanes × batchSize` by default, so every lane can fill a batch.
    ///   - publisher: publishes retries and dead letters (through the queue's retry exchange).
    ///   - lanes: how many batches are applied at once (each in its own transaction).
    ///   - batchSize: the most events a lane applies in one transaction.
    ///   - inboxRetention: how long an applied event's inbox rows are kept; longer than the
    ///     archive's replay window, so a replay from the archive is still recognised.
    public init(
        service: ServiceName, queue: String? = nil, amqpURL: String, prefetch: Int? = nil, database: DatabasePool,
        publisher: AMQPPublisher, retry: RetryPolicy = .default, lanes: Int = 4, batchSize: Int = 64,
        inboxRetention: Duration = .seconds(14 * 86_400), handlers: [EventHandler], logger: Logger
    ) throws {
        self.laneCount = max(1, lanes)
        self.batchSize = max(1, batchSize)
        self.service = service
        let queue = queue ?? service.rawValue
        self.queue = queue
        self.consumer = try AMQPConsumer(
            url: amqpURL, queue: queue, prefetch: UInt16(clamping: prefetch ?? laneCount * self.batchSize), name: service.rawValue,
            logger: logger)
        self.amqpURL = amqpURL
        self.publisher = publisher
        self.database = database
        self.handlers = Dictionary(grouping: handlers, by: { $0.eventType.cloudEventType })
        self.retry = retry
        self.inboxRetention = inboxRetention
        self.logger = logger
        let dimensions = [("service", service.rawValue)]
        self.unknown = Counter(label: "events_unknown_total", dimensions: dimensions)
        self.forged = Counter(label: "events_forged_total", dimensions: dimensions)
        self.batches = Counter(label: "event_batches_applied_total", dimensions: dimensions)
        self.queueDepth = Gauge(label: "queue_messages_ready", dimensions: [("queue", queue)])
        self.deadLetterDepth = Gauge(label: "queue_messages_ready", dimensions: [("queue", "\(queue).dlq")])
        self.metrics = HandlerMetrics(service: service.rawValue)
    }

    /// The exchange of this consumer's retry tiers, dead-letter queue and way back.
    public var retryExchange: String { Topology.retryExchange(of: queue) }

    /// What this consumer has done since it started (the same as its metrics, for this instance).
    public var statistics: Statistics { tally.value }

    public struct Statistics: Sendable, Equatable {
        public var handled = 0
        public var unknown = 0
        public var forged = 0
        /// Transactions that applied at least one event.
        public var batches = 0
        /// The most events one transaction applied.
        public var largestBatch = 0
        /// Events that failed and went to a retry tier or the dead-letter queue.
        public var failed = 0
    }

    /// Whether the consumer is connected and consuming.
    public var isConsuming: Bool { consumer.isConsuming }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.housekeeping() }
            await withGracefulShutdownHandler {
                await self.consume()
            } onGracefulShutdown: {
                self.consumer.stop()
            }
            group.cancelAll()
        }
    }

    /// Handles deliveries in `lanes` concurrent lanes. Events of one aggregate (one partition key)
    /// always share a lane, so they are handled in the order they arrived; different aggregates
    /// proceed side by side.
    private func consume() async {
        await withDiscardingTaskGroup { group in
            var lanes: [LaneBuffer] = []
            for _ in 0..<laneCount {
                let lane = LaneBuffer()
                lanes.append(lane)
                group.addTask {
                    while let batch = await lane.take(max: self.batchSize) { await self.handle(batch) }
                }
            }
            for await message in consumer.deliveries {
                lanes[Self.lane(for: message, of: lanes.count)].push(message)
            }
            for lane in lanes { lane.finish() }
        }
    }

    /// Every 15 s the depth of the queue and of its dead-letter queue (gauges: a slow consumer
    /// shows before it hurts, a dead letter as soon as it lands); every hour, inbox rows past
    /// their retention.
    private func housekeeping() async {
        let admin = try? AMQPAdmin(url: amqpURL)
        let queue = self.queue
        let retentionSeconds = Double(inboxRetention.components.seconds)
        var lastPurge = ContinuousClock.now - .seconds(3600)
        while !Task.isCancelled {
            if let admin, let depth = try? await admin.messageCount(queue: queue) { queueDepth.record(depth) }
            if let admin, let depth = try? await admin.messageCount(queue: "\(queue).dlq") { deadLetterDepth.record(depth) }
            if ContinuousClock.now - lastPurge >= .seconds(3600) {
                lastPurge = .now
                do {
                    try await Self.expireInbox(receivedBefore: Date().addingTimeInterval(-retentionSeconds), on: database)
                } catch {
                    logger.warning("could not expire inbox rows", metadata: ["error": "\(error)"])
                }
            }
            try? await Task.sleep(for: .seconds(15))
        }
    }

    /// Deletes the inbox rows of events received before `cutoff`, in batches; returns how many.
    @discardableResult
    public static func expireInbox(receivedBefore cutoff: Date, on database: DatabasePool) async throws -> Int {
        try await database.inBatches(of: 10_000) { limit in
            "DELETE FROM inbox WHERE ctid = ANY(ARRAY(SELECT ctid FROM inbox WHERE received_at < \(cutoff) LIMIT \(limit)))"
        }
    }

    /// The lane of a message: by its partition key (the aggregate), from the `partitionkey`
    /// header the relay sets, else from the envelope.
    static func lane(for message: IncomingMessage, of count: Int) -> Int {
        guard count > 1 else { return 0 }
        let key = message.properties.headers["partitionkey"]?.stringValue
            ?? (try? EventCoding.decode(CloudEventHeader.self, from: message.body))?.partitionkey
            ?? message.properties.messageID
            ?? ""
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325 // FNV-1a: stable across processes
        for byte in key.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return Int(hash % UInt64(count))
    }

    /// The failure headers a retried or dead-lettered event carries.
    public enum Header {
        public static let attempts = "x-syllabus-attempts"
        public static let handler = "x-syllabus-handler"
        public static let error = "x-syllabus-error"
        public static let firstFailedAt = "x-syllabus-first-failed-at"
        public static let lastFailedAt = "x-syllabus-last-failed-at"
        public static let deadLetteredAt = "x-syllabus-dead-lettered-at"
        /// Why a message is in the dead-letter queue: `failed`, `undecodable` or `forged`.
        public static let reason = "x-syllabus-reason"
        /// The exchange a quarantined message came through.
        public static let exchange = "x-syllabus-exchange"
    }

    /// The value of `Header.reason` on a message that is never to be redriven.
    public static let forgedReason = "forged"

    /// What one delivery turned out to be before anything is applied.
    enum Intake {
        case apply(Work)
        case unknown(type: String, id: String)
        case quarantine(String)
        case undecodable(String)
    }

    struct Work {
        let message: IncomingMessage
        let eventID: UUID
        let event: DecodedEvent
        let handlers: [EventHandler]
        /// The context of the span handling it, when traced: what its handlers write down (events,
        /// queued mail) continues the trace.
        var traceparent: String? = nil
    }

    /// Decodes a delivery once and judges it. The relay names the type in the AMQP `type`
    /// property: when that type has handlers here, the typed decode is the only one, and the
    /// envelope it produced is what is judged. Otherwise the envelope's header is read first.
    func intake(_ message: IncomingMessage) -> Intake {
        var decoded: DecodedEvent?
        var handlers: [EventHandler] = []
        if let hinted = message.properties.type, let candidates = self.handlers[hinted], let first = candidates.first,
            let event = try? first.decode(message.body), event.type == hinted
        {
            decoded = event
            handlers = candidates
        }
        let source: String
        let type: String
        if let decoded {
            (source, type) = (decoded.source, decoded.type)
        } else {
            guard let header = try? EventCoding.decode(CloudEventHeader.self, from: message.body) else { return .quarantine("not a CloudEvent") }
            (source, type) = (header.source, header.type)
        }
        switch Provenance.judge(exchange: message.exchange, retryExchange: retryExchange, source: source, type: type) {
        case .forged(let why): return .quarantine(why)
        case .ownRetry, .genuine: break
        }
        if decoded == nil {
            guard let candidates = self.handlers[type], let first = candidates.first else {
                let id = (try? EventCoding.decode(CloudEventHeader.self, from: message.body))?.id ?? "-"
                return .unknown(type: type, id: id)
            }
            do {
                decoded = try first.decode(message.body)
                handlers = candidates
            } catch {
                return .undecodable("\(error)")
            }
        }
        guard let decoded, let eventID = UUID(uuidString: decoded.id) else { return .undecodable("id is not a UUID") }
        return .apply(Work(message: message, eventID: eventID, event: decoded, handlers: handlers))
    }

    /// Handles one lane's batch: what cannot be applied is settled one by one, the rest in one
    /// transaction; acknowledgements go in delivery order (the consumer folds them into one).
    private func handle(_ batch: [IncomingMessage]) async {
        var work: [Work] = []
        for message in batch {
            switch intake(message) {
            case .apply(let item):
                work.append(item)
            case .unknown(let type, let id):
                // A genuine type this version does not know: a newer producer, or a retired type.
                logger.notice("event type not handled here; acknowledged", metadata: ["type": "\(type)", "eventId": "\(id)"])
                consumer.ack(message)
                unknown.increment()
                tally.update { $0.unknown += 1 }
            case .quarantine(let why):
                await quarantine(message, because: why)
            case .undecodable(let why):
                await failed(message, error: ConsumeFailure.undecodable(why), eventType: message.properties.type, eventID: message.properties.messageID)
            }
        }
        guard !work.isEmpty else { return }
        let spans = startSpans(&work)
        let results = await apply(work)
        var succeeded = 0
        for (index, (item, result)) in zip(work, results).enumerated() {
            let span = spans.isEmpty ? nil : spans[index]
            switch result {
            case .success:
                consumer.ack(item.message)
                succeeded += 1
                for handler in item.handlers { metrics.handled(handler.name) }
                span?.end()
            case .failure(let error):
                span?.recordError(error)
                span?.setStatus(SpanStatus(code: .error))
                // Within the event's span, so that the log lines carry its trace.
                await ServiceContext.withValue(span?.context ?? ServiceContext.current ?? .topLevel) {
                    await failed(item.message, error: error, eventType: item.event.type, eventID: item.event.id)
                }
                span?.end()
            }
        }
        batches.increment()
        let size = work.count
        tally.update {
            $0.handled += succeeded
            $0.batches += 1
            $0.largestBatch = max($0.largestBatch, size)
        }
    }

    /// A span per event, from the batch's start to its settlement: a child of the context the event
    /// was made in (the `traceparent` header the relay sets), as OpenTelemetry's messaging
    /// conventions have a consumer of a single message; none when tracing is off.
    private func startSpans(_ work: inout [Work]) -> [any Span] {
        guard TraceContext.isRecording else { return [] }
        let tracer = InstrumentationSystem.tracer
        return work.indices.map { index in
            let item = work[index]
            let parent = TraceContext.context(traceparent: item.message.properties.headers["traceparent"]?.stringValue)
            let span = tracer.startAnySpan("process \(item.event.type)", context: parent, ofKind: .consumer)
            span.attributes["messaging.system"] = "rabbitmq"
            span.attributes["messaging.operation.type"] = "process"
            span.attributes["messaging.destination.name"] = queue
            span.attributes["messaging.message.id"] = item.event.id
            span.attributes["cloudevents.event_type"] = item.event.type
            span.attributes["cloudevents.event_id"] = item.event.id
            span.attributes["messaging.rabbitmq.destination.routing_key"] = item.message.routingKey
            work[index].traceparent = TraceContext.traceparent(of: span.context)
            return span
        }
    }

    /// Applies `work` in one transaction and returns each event's outcome.
    ///
    /// First without savepoints (no round trip more than the handlers' own): when every handler
    /// succeeds, as almost always, that is all. When one fails, that transaction is rolled back
    /// and the batch runs again with a savepoint per event, so that only the culprit fails. When
    /// the transaction as a whole fails (the connection, the commit, a deadlock with another
    /// transaction), each event is tried alone.
    private func apply(_ work: [Work]) async -> [Result<Void, any Error>] {
        if work.count > 1, let results = try? await database.transaction({ connection in try Self.apply(work, on: connection, isolated: false, metrics: self.metrics) }) {
            return results
        }
        do {
            return try await database.transaction { connection in try Self.apply(work, on: connection, isolated: work.count > 1, metrics: self.metrics) }
        } catch {
            guard work.count > 1 else { return [.failure(error)] }
            var results: [Result<Void, any Error>] = []
            for item in work { results += await apply([item]) }
            return results
        }
    }

    struct InboxKey: Hashable {
        let eventID: UUID
        let handler: String
    }

    /// - Parameter isolated: a savepoint per event, so that a failing one is undone alone;
    ///   otherwise the first failure throws and undoes the whole batch.
    static func apply(_ work: [Work], on connection: PostgresConnection, isolated: Bool, metrics: HandlerMetrics? = nil) throws -> [Result<Void, any Error>] {
        var ids: [UUID] = []
        var names: [String] = []
        var types: [String] = []
        for item in work {
            for handler in item.handlers {
                ids.append(item.eventID)
                names.append(handler.name)
                types.append(item.event.type)
            }
        }
        var fresh = Set(
            try connection.query(
                """
                INSERT INTO inbox (event_id, handler, event_type)
                SELECT * FROM unnest(\(array: ids), \(array: names), \(array: types))
                ON CONFLICT DO NOTHING RETURNING event_id, handler
                """
            ).map { InboxKey(eventID: try $0.decode("event_id", as: UUID.self), handler: try $0.decode("handler", as: String.self)) })
        var savepoint = false
        var results: [Result<Void, any Error>] = []
        results.reserveCapacity(work.count)
        for item in work {
            // A second copy of an event in the same batch finds its rows already claimed.
            let handlers = item.handlers.filter { fresh.remove(InboxKey(eventID: item.eventID, handler: $0.name)) != nil }
            if handlers.isEmpty {
                results.append(.success(()))
                continue
            }
            // Each event starts as if alone in its transaction (no row-security scope left by the
            // one before), under a savepoint of its own; the previous one is released in the same
            // round trip, and COMMIT releases the last.
            if isolated {
                try connection.executeScript((savepoint ? "RELEASE SAVEPOINT event; " : "") + "SAVEPOINT event; \(RowSecurity.leaveScopesSQL)")
                savepoint = true
            } else if connection.marks.remove(RowSecurity.mark) != nil {
                // The event before entered a row-security scope: this one starts outside both.
                try connection.executeScript(RowSecurity.leaveScopesSQL)
            }
            if let traceparent = item.traceparent { connection.traceparent = traceparent }
            do {
                for handler in handlers {
                    let started = ContinuousClock.now
                    try HandlerFailure.naming(handler.name) { try handler.apply(item.event, connection) }
                    metrics?.took(handler.name, ContinuousClock.now - started)
                }
                results.append(.success(()))
            } catch {
                // A deadlock or a serialization failure is not this event's fault, and rolling back
                // to its savepoint would keep the locks of the events before it, which the other
                // transaction waits for: the whole transaction ends, and each event runs alone.
                guard isolated, !Self.isConflict(error) else { throw error }
                try connection.executeScript("ROLLBACK TO SAVEPOINT event")
                try connection.execute("DELETE FROM inbox WHERE event_id = \(item.eventID) AND handler = ANY(\(array: handlers.map(\.name)))")
                results.append(.failure(error))
            }
        }
        return results
    }

    /// Applies one believed envelope to `handlers` as a delivery of it is applied: only the handlers
    /// of its type, through the inbox, under a savepoint of its own, on `connection`'s open
    /// transaction. A type none of them handles is acknowledged, as the consumer does. For feeding
    /// a service's handlers without a broker (replays, the order-independence tests).
    public static func deliver(_ envelope: [UInt8], to handlers: [EventHandler], on connection: PostgresConnection) throws -> Result<Void, any Error> {
        let header = try EventCoding.decode(CloudEventHeader.self, from: envelope)
        let matching = handlers.filter { $0.eventType.cloudEventType == header.type }
        guard let first = matching.first else { return .success(()) }
        let decoded = try first.decode(envelope)
        guard let eventID = UUID(uuidString: decoded.id) else { throw ConsumeFailure.undecodable("id is not a UUID") }
        let message = IncomingMessage(
            deliveryTag: 0, connectionGeneration: 0, exchange: "", routingKey: "", redelivered: false, body: envelope,
            properties: AMQPProperties(messageID: decoded.id, type: decoded.type))
        return try apply([Work(message: message, eventID: eventID, event: decoded, handlers: matching)], on: connection, isolated: true)[0]
    }

    /// Sends a forged message to the dead-letter queue, marked so that it is never redriven.
    private func quarantine(_ message: IncomingMessage, because why: String) async {
        forged.increment()
        tally.update { $0.forged += 1 }
        logger.error(
            "forged message quarantined",
            metadata: ["exchange": "\(message.exchange)", "routingKey": "\(message.routingKey)", "reason": "\(why)"])
        await failed(message, error: Forged(reason: why), eventType: message.properties.type, eventID: message.properties.messageID)
    }

    private func failed(_ message: IncomingMessage, error: any Error, eventType: String?, eventID: String?) async {
        tally.update { $0.failed += 1 }
        let handlerName = (error as? HandlerFailure)?.handler ?? "\(service.rawValue).consumer"
        metrics.failed(handlerName)
        let about: Logger.Metadata = ["event_type": "\(eventType ?? "-")", "event_id": "\(eventID ?? "-")", "handler": "\(handlerName)"]
        let previous = Int(message.properties.headers[Header.attempts]?.intValue ?? 0)
        let attempt = previous + 1
        let permanent = error is ConsumeFailure || error is Forged || Self.isNUL(error)
        let decision = permanent ? .deadLetter : retry.decision(afterFailedAttempt: attempt)
        let now = RFC3339.format(Date())
        var properties = message.properties
        properties.headers[Header.attempts] = .int(Int64(attempt))
        properties.headers[Header.error] = .string(String(describing: error).prefix(1000).description)
        properties.headers[Header.handler] = .string(handlerName)
        properties.headers[Header.lastFailedAt] = .string(now)
        if properties.headers[Header.firstFailedAt] == nil { properties.headers[Header.firstFailedAt] = .string(now) }
        let target: String
        switch decision {
        case .retry(let delay):
            target = "\(queue).retry.\(delay)"
            logger.warning("event failed, retrying", metadata: about.merging(["error": "\(error)", "attempt": "\(attempt)", "delayMs": "\(delay)"]) { $1 })
        case .deadLetter:
            target = "\(queue).dlq"
            properties.headers[Header.deadLetteredAt] = .string(now)
            properties.headers[Header.reason] = .string(
                error is Forged ? Self.forgedReason : error is ConsumeFailure || Self.isNUL(error) ? "undecodable" : "failed")
            if error is Forged { properties.headers[Header.exchange] = .string(message.exchange) }
            logger.error("event dead-lettered", metadata: about.merging(["error": "\(error)", "attempts": "\(attempt)"]) { $1 })
        }
        let republished = OutgoingMessage(
            exchange: retryExchange, routingKey: target, body: message.body, properties: properties, mandatory: true)
        do {
            guard try await publisher.publish(republished) == .confirmed else { throw RepublishFailed(target: target) }
            consumer.ack(message)
            if case .deadLetter = decision {
                metrics.deadLettered(handlerName, reason: properties.headers[Header.reason]?.stringValue ?? "failed")
            } else {
                metrics.retried(handlerName)
            }
        } catch {
            // The broker could not take it now: let it come back here. The queue's delivery limit
            // dead-letters a message that keeps coming back.
            logger.warning("could not republish a failed event; requeueing", metadata: ["target": "\(target)", "error": "\(error)"])
            consumer.reject(message, requeue: true)
        }
    }

    /// A payload with a NUL in a value the handler stores can never be applied.
    /// A deadlock (40P01) or a serialization failure (40001): another transaction's timing, not
    /// the event's content.
    static func isConflict(_ error: any Error) -> Bool {
        guard case DatabaseError.server(let failure) = ((error as? HandlerFailure)?.underlying ?? error) else { return false }
        return failure.sqlState.rawValue == "40P01" || failure.sqlState.rawValue == "40001"
    }

    static func isNUL(_ error: any Error) -> Bool {
        if case DatabaseError.nulInParameter = ((error as? HandlerFailure)?.underlying ?? error) { return true }
        return false
    }

}

/// The per-handler series of a consumer: `events_handled_total`, `events_failed_total`,
/// `events_retried_total`, `events_dead_lettered_total` (by `reason`) and
/// `event_handling_duration_seconds` (a histogram of the handler's own time, inside the batch's
/// transaction), each labelled by `service` and `handler`.
final class HandlerMetrics: @unchecked Sendable {
    private struct Series {
        let handled: Counter
        let failed: Counter
        let retried: Counter
        let duration: Metrics.Timer
    }

    private let service: String
    private let lock = NSLock()
    private var series: [String: Series] = [:]
    private var deadLetters: [String: Counter] = [:]

    init(service: String) {
        self.service = service
    }

    private func of(_ handler: String) -> Series {
        lock.withLock {
            if let known = series[handler] { return known }
            let dimensions = [("service", service), ("handler", handler)]
            let made = Series(
                handled: Counter(label: "events_handled_total", dimensions: dimensions),
                failed: Counter(label: "events_failed_total", dimensions: dimensions),
                retried: Counter(label: "events_retried_total", dimensions: dimensions),
                duration: Metrics.Timer(label: "event_handling_duration_seconds", dimensions: dimensions, preferredDisplayUnit: .seconds))
            series[handler] = made
            return made
        }
    }

    func handled(_ handler: String) { of(handler).handled.increment() }
    func failed(_ handler: String) { of(handler).failed.increment() }
    func retried(_ handler: String) { of(handler).retried.increment() }
    func took(_ handler: String, _ duration: Duration) { of(handler).duration.record(duration: duration) }

    func deadLettered(_ handler: String, reason: String) {
        let counter = lock.withLock {
            let key = "\(handler)\u{0}\(reason)"
            if let known = deadLetters[key] { return known }
            let made = Counter(label: "events_dead_lettered_total", dimensions: [("service", service), ("handler", handler), ("reason", reason)])
            deadLetters[key] = made
            return made
        }
        counter.increment()
    }
}

/// A handler's error, with the handler's name for the failure headers.
struct HandlerFailure: Error, CustomStringConvertible {
    let handler: String
    let underlying: any Error

    var description: String { "\(underlying)" }

    static func naming(_ handler: String, _ body: () throws -> Void) throws {
        do {
            try body()
        } catch let failure as ConsumeFailure {
            throw failure
        } catch {
            throw HandlerFailure(handler: handler, underlying: error)
        }
    }
}

final class Tally: @unchecked Sendable {
    private let lock = NSLock()
    private var statistics = EventConsumerService.Statistics()

    var value: EventConsumerService.Statistics { lock.withLock { statistics } }
    func update(_ change: (inout EventConsumerService.Statistics) -> Void) { lock.withLock { change(&statistics) } }
}

/// A message the consumer does not believe (see `Provenance`).
struct Forged: Error, CustomStringConvertible {
    let reason: String
    var description: String { "forged: \(reason)" }
}

struct RepublishFailed: Error {
    let target: String
}

/// A lane's deliveries: pushed by the consumer, taken in batches of what has arrived.
final class LaneBuffer: @unchecked Sendable {
    private let lock = NSLock()
    private var messages: [IncomingMessage] = []
    private var finished = false
    private var waiter: CheckedContinuation<Void, Never>?

    func push(_ message: IncomingMessage) {
        let waiting: CheckedContinuation<Void, Never>? = lock.withLock {
            messages.append(message)
            defer { waiter = nil }
            return waiter
        }
        waiting?.resume()
    }

    func finish() {
        let waiting: CheckedContinuation<Void, Never>? = lock.withLock {
            finished = true
            defer { waiter = nil }
            return waiter
        }
        waiting?.resume()
    }

    /// Up to `max` deliveries, as soon as there is one; nil once finished and empty.
    func take(max: Int) async -> [IncomingMessage]? {
        while true {
            enum Step { case batch([IncomingMessage]), done, wait }
            let step: Step = lock.withLock {
                if !messages.isEmpty {
                    let count = Swift.min(max, messages.count)
                    let batch = Array(messages.prefix(count))
                    messages.removeFirst(count)
                    return .batch(batch)
                }
                return finished ? .done : .wait
            }
            switch step {
            case .batch(let batch): return batch
            case .done: return nil
            case .wait:
                await withCheckedContinuation { continuation in
                    let resumeNow: Bool = lock.withLock {
                        if !messages.isEmpty || finished { return true }
                        waiter = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            }
        }
    }
}
