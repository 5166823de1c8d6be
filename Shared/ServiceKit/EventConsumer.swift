import Contracts
import Database
import Foundation
import Logging
import MessageBus
import Metrics
import ServiceLifecycle

/// How a service reacts to one event type. The handler runs inside the inbox transaction: its
/// writes and the `(event id, handler)` row commit together, so a redelivered event is a no-op.
public struct EventHandler: Sendable {
    public let name: String
    public let eventType: EventType
    let apply: @Sendable ([UInt8], PostgresConnection) throws -> Void

    /// - Parameters:
    ///   - name: stable name of the handler (the inbox key); renaming it replays events.
    public init<E: DomainEvent>(_ type: E.Type, name: String, _ body: @escaping @Sendable (CloudEvent<E>, PostgresConnection) throws -> Void) {
        self.name = name
        self.eventType = E.eventType
        self.apply = { bytes, connection in
            let event: CloudEvent<E>
            do {
                event = try EventCoding.decode(CloudEvent<E>.self, from: bytes)
            } catch {
                throw ConsumeFailure.undecodable("\(error)")
            }
            try body(event, connection)
        }
    }
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

/// Consumes a service's queue and applies each event through the inbox, then acknowledges it.
///
/// Only believed messages are applied (see `Provenance`): a forged one goes to `<queue>.dlq` marked
/// `forged`; a genuine one of a type this version has no handler for is acknowledged and counted.
/// A failing event never blocks the queue: it is republished through the queue's retry exchange to
/// the tier its attempt calls for (a queue whose messages wait, then come back to this queue only)
/// and acknowledged; after the policy's last attempt, or at once when it can never succeed
/// (undecodable), it goes to `<queue>.dlq` with the failure in its headers. Republishing is confirmed before the
/// original is acknowledged, so a crash in between duplicates an event (the inbox absorbs it)
/// but never loses one.
public final class EventConsumerService: Service, Sendable {
    public let service: ServiceName
    public let queue: String
    private let consumer: AMQPConsumer
    private let publisher: AMQPPublisher
    private let database: DatabasePool
    private let handlers: [String: [EventHandler]]
    private let retry: RetryPolicy
    private let laneCount: Int
    private let logger: Logger
    private let handled: Counter
    private let deadLettered: Counter
    private let retried: Counter
    private let unknown: Counter
    private let forged: Counter
    private let tally = Tally()

    /// - Parameters:
    ///   - queue: the queue to consume; the service's own (`<service>`) by default. Its retry
    ///     tiers and dead-letter queue are named after it.
    ///   - publisher: publishes retries and dead letters (through the queue's retry exchange).
    ///   - lanes: how many events are handled at once (each in its own transaction).
    public init(
        service: ServiceName, queue: String? = nil, amqpURL: String, prefetch: Int, database: DatabasePool,
        publisher: AMQPPublisher, retry: RetryPolicy = .default, lanes: Int = 4, handlers: [EventHandler], logger: Logger
    ) throws {
        self.laneCount = max(1, lanes)
        self.service = service
        let queue = queue ?? service.rawValue
        self.queue = queue
        self.consumer = try AMQPConsumer(
            url: amqpURL, queue: queue, prefetch: UInt16(clamping: prefetch), name: service.rawValue, logger: logger)
        self.publisher = publisher
        self.database = database
        self.handlers = Dictionary(grouping: handlers, by: { $0.eventType.cloudEventType })
        self.retry = retry
        self.logger = logger
        self.handled = Counter(label: "events_handled_total", dimensions: [("service", service.rawValue)])
        self.deadLettered = Counter(label: "events_dead_lettered_total", dimensions: [("service", service.rawValue)])
        self.retried = Counter(label: "events_retried_total", dimensions: [("service", service.rawValue)])
        self.unknown = Counter(label: "events_unknown_total", dimensions: [("service", service.rawValue)])
        self.forged = Counter(label: "events_forged_total", dimensions: [("service", service.rawValue)])
    }

    /// The exchange of this consumer's retry tiers, dead-letter queue and way back.
    public var retryExchange: String { Topology.retryExchange(of: queue) }

    /// What this consumer has done since it started (the same as its metrics, for this instance).
    public var statistics: Statistics { tally.value }

    public struct Statistics: Sendable, Equatable {
        public var handled = 0
        public var unknown = 0
        public var forged = 0
    }

    /// Whether the consumer is connected and consuming.
    public var isConsuming: Bool { consumer.isConsuming }

    /// Handles deliveries in `lanes` concurrent lanes. Events of one aggregate (one partition key)
    /// always share a lane, so they are handled in the order they arrived; different aggregates
    /// proceed side by side.
    public func run() async throws {
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                var lanes: [AsyncStream<IncomingMessage>.Continuation] = []
                for _ in 0..<laneCount {
                    let (stream, continuation) = AsyncStream<IncomingMessage>.makeStream()
                    lanes.append(continuation)
                    group.addTask {
                        for await message in stream { await self.handle(message) }
                    }
                }
                for await message in consumer.deliveries {
                    lanes[Self.lane(for: message, of: lanes.count)].yield(message)
                }
                for lane in lanes { lane.finish() }
            }
        } onGracefulShutdown: {
            self.consumer.stop()
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

    private func handle(_ message: IncomingMessage) async {
        let header: CloudEventHeader
        do {
            header = try EventCoding.decode(CloudEventHeader.self, from: message.body)
        } catch {
            return await quarantine(message, because: "not a CloudEvent")
        }
        switch Provenance.judge(exchange: message.exchange, retryExchange: retryExchange, source: header.source, type: header.type) {
        case .forged(let why):
            return await quarantine(message, because: why)
        case .ownRetry, .genuine:
            break
        }
        guard let handlers = handlers[header.type], !handlers.isEmpty else {
            // A genuine type this version does not know: a newer producer, or a retired type.
            logger.notice("event type not handled here; acknowledged", metadata: ["type": "\(header.type)", "eventId": "\(header.id)"])
            consumer.ack(message)
            unknown.increment()
            tally.update { $0.unknown += 1 }
            return
        }
        do {
            try await apply(message, header: header, handlers: handlers)
            consumer.ack(message)
            handled.increment()
            tally.update { $0.handled += 1 }
        } catch {
            await failed(message, error: error)
        }
    }

    /// Sends a forged message to the dead-letter queue, marked so that it is never redriven.
    private func quarantine(_ message: IncomingMessage, because why: String) async {
        forged.increment()
        tally.update { $0.forged += 1 }
        logger.error(
            "forged message quarantined",
            metadata: ["exchange": "\(message.exchange)", "routingKey": "\(message.routingKey)", "reason": "\(why)"])
        await failed(message, error: Forged(reason: why))
    }

    private func failed(_ message: IncomingMessage, error: any Error) async {
        let previous = Int(message.properties.headers[Header.attempts]?.intValue ?? 0)
        let attempt = previous + 1
        let permanent = error is ConsumeFailure || error is Forged || Self.isNUL(error)
        let decision = permanent ? .deadLetter : retry.decision(afterFailedAttempt: attempt)
        let now = RFC3339.format(Date())
        var properties = message.properties
        properties.headers[Header.attempts] = .int(Int64(attempt))
        properties.headers[Header.error] = .string(String(describing: error).prefix(1000).description)
        properties.headers[Header.handler] = .string((error as? HandlerFailure)?.handler ?? "\(service.rawValue).consumer")
        properties.headers[Header.lastFailedAt] = .string(now)
        if properties.headers[Header.firstFailedAt] == nil { properties.headers[Header.firstFailedAt] = .string(now) }
        let target: String
        switch decision {
        case .retry(let delay):
            target = "\(queue).retry.\(delay)"
            logger.warning("event failed, retrying", metadata: ["error": "\(error)", "attempt": "\(attempt)", "delayMs": "\(delay)"])
        case .deadLetter:
            target = "\(queue).dlq"
            properties.headers[Header.deadLetteredAt] = .string(now)
            properties.headers[Header.reason] = .string(
                error is Forged ? Self.forgedReason : error is ConsumeFailure || Self.isNUL(error) ? "undecodable" : "failed")
            if error is Forged { properties.headers[Header.exchange] = .string(message.exchange) }
            logger.error("event dead-lettered", metadata: ["error": "\(error)", "attempts": "\(attempt)", "messageId": "\(message.properties.messageID ?? "-")"])
        }
        let republished = OutgoingMessage(
            exchange: retryExchange, routingKey: target, body: message.body, properties: properties, mandatory: true)
        do {
            guard try await publisher.publish(republished) == .confirmed else { throw RepublishFailed(target: target) }
            consumer.ack(message)
            if case .deadLetter = decision { deadLettered.increment() } else { retried.increment() }
        } catch {
            // The broker could not take it now: let it come back here. The queue's delivery limit
            // dead-letters a message that keeps coming back.
            logger.warning("could not republish a failed event; requeueing", metadata: ["target": "\(target)", "error": "\(error)"])
            consumer.reject(message, requeue: true)
        }
    }

    /// A payload with a NUL in a value the handler stores can never be applied.
    static func isNUL(_ error: any Error) -> Bool {
        if case DatabaseError.nulInParameter = ((error as? HandlerFailure)?.underlying ?? error) { return true }
        return false
    }

    private func apply(_ message: IncomingMessage, header: CloudEventHeader, handlers: [EventHandler]) async throws {
        guard let eventID = UUID(uuidString: header.id) else { throw ConsumeFailure.undecodable("id is not a UUID") }
        let body = message.body
        for handler in handlers {
            try await HandlerFailure.naming(handler.name) {
                try await database.transaction { connection in
                let fresh = try connection.execute(
                    """
                    INSERT INTO inbox (event_id, handler, event_type) VALUES (\(eventID), \(handler.name), \(header.type))
                    ON CONFLICT DO NOTHING
                    """
                ).affectedRows == 1
                    if fresh { try handler.apply(body, connection) }
                }
            }
        }
    }
}

/// A handler's error, with the handler's name for the failure headers.
struct HandlerFailure: Error, CustomStringConvertible {
    let handler: String
    let underlying: any Error

    var description: String { "\(underlying)" }

    static func naming(_ handler: String, _ body: () async throws -> Void) async throws {
        do {
            try await body()
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
