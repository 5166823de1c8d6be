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

/// Why a message could not be handled. Undecodable and unknown events can never succeed and go
/// to the dead-letter queue at once; anything else is retried.
public enum ConsumeFailure: Error, CustomStringConvertible {
    case undecodable(String)
    case unknownType(String)

    public var description: String {
        switch self {
        case .undecodable(let reason): "undecodable event: \(reason)"
        case .unknownType(let type): "no handler for event type \(type)"
        }
    }
}

/// Consumes a service's queue and applies each event through the inbox, then acknowledges it.
public final class EventConsumerService: Service, Sendable {
    public let service: ServiceName
    private let consumer: AMQPConsumer
    private let database: DatabasePool
    private let handlers: [String: [EventHandler]]
    private let logger: Logger
    private let handled: Counter
    private let deadLettered: Counter
    private let retried: Counter

    /// - Parameters:
    ///   - queue: the queue to consume; the service's own (`<service>`) by default.
    public init(
        service: ServiceName, queue: String? = nil, amqpURL: String, prefetch: Int, database: DatabasePool, handlers: [EventHandler],
        logger: Logger
    ) throws {
        self.service = service
        self.consumer = try AMQPConsumer(
            url: amqpURL, queue: queue ?? service.rawValue, prefetch: UInt16(clamping: prefetch), name: service.rawValue, logger: logger)
        self.database = database
        self.handlers = Dictionary(grouping: handlers, by: { $0.eventType.cloudEventType })
        self.logger = logger
        self.handled = Counter(label: "events_handled_total", dimensions: [("service", service.rawValue)])
        self.deadLettered = Counter(label: "events_dead_lettered_total", dimensions: [("service", service.rawValue)])
        self.retried = Counter(label: "events_retried_total", dimensions: [("service", service.rawValue)])
    }

    /// Whether the consumer is connected and consuming.
    public var isConsuming: Bool { consumer.isConsuming }

    public func run() async throws {
        await withGracefulShutdownHandler {
            for await message in consumer.deliveries {
                await handle(message)
            }
        } onGracefulShutdown: {
            self.consumer.stop()
        }
    }

    private func handle(_ message: IncomingMessage) async {
        do {
            try await apply(message)
            consumer.ack(message)
            handled.increment()
        } catch let failure as ConsumeFailure {
            logger.error("dead-lettering event", metadata: ["error": "\(failure)", "messageId": "\(message.properties.messageID ?? "-")"])
            deadLettered.increment()
            consumer.reject(message, requeue: false)
        } catch {
            // Transient (database down, deadlock …): back off, then let the broker redeliver. The
            // queue's delivery limit sends a message that never succeeds to the dead-letter queue.
            let attempt = Int(message.properties.headers["x-delivery-count"]?.intValue ?? 0)
            logger.warning("event handling failed, will retry", metadata: ["error": "\(error)", "attempt": "\(attempt)"])
            retried.increment()
            try? await Task.sleep(for: .milliseconds(min(5_000, 100 << min(attempt, 6))))
            consumer.reject(message, requeue: true)
        }
    }

    private func apply(_ message: IncomingMessage) async throws {
        let header: CloudEventHeader
        do {
            header = try EventCoding.decode(CloudEventHeader.self, from: message.body)
        } catch {
            throw ConsumeFailure.undecodable("not a CloudEvent: \(error)")
        }
        guard let eventID = UUID(uuidString: header.id) else { throw ConsumeFailure.undecodable("id is not a UUID") }
        guard let handlers = handlers[header.type], !handlers.isEmpty else { throw ConsumeFailure.unknownType(header.type) }
        let body = message.body
        for handler in handlers {
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
