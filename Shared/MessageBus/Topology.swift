/// The broker objects of the system: one topic exchange per producer, one quorum queue per
/// consumer with its retry tiers and dead-letter queue, and the archive stream.
public struct Topology: Sendable, Equatable {
    public struct ConsumerQueue: Sendable, Equatable {
        /// The consuming service; its queue has the same name.
        public var service: String
        /// `(exchange, routing key)` pairs the queue is bound with.
        public var bindings: [Binding]
        /// Deliveries after which the broker dead-letters a message that keeps failing.
        public var deliveryLimit: Int
        /// Delays, in milliseconds, of the retry tiers (`<service>.retry.<delay>`).
        public var retryDelays: [Int]

        public init(service: String, bindings: [Binding], deliveryLimit: Int = 10, retryDelays: [Int] = [1_000, 10_000, 60_000]) {
            self.service = service
            self.bindings = bindings
            self.deliveryLimit = deliveryLimit
            self.retryDelays = retryDelays
        }

        public var queue: String { service }
        public var deadLetterQueue: String { "\(service).dlq" }
        public func retryQueue(delay: Int) -> String { "\(service).retry.\(delay)" }
    }

    public struct Binding: Sendable, Equatable, Hashable {
        public var exchange: String
        public var routingKey: String
        public init(exchange: String, routingKey: String) {
            self.exchange = exchange
            self.routingKey = routingKey
        }
    }

    public var exchanges: [String]
    public var consumers: [ConsumerQueue]
    public var archive: String
    /// How long the archive keeps events (a RabbitMQ duration: `7D`, `12h` …).
    public var archiveMaxAge: String

    public init(exchanges: [String], consumers: [ConsumerQueue], archive: String = "events.archive", archiveMaxAge: String = "7D") {
        self.exchanges = exchanges
        self.consumers = consumers
        self.archive = archive
        self.archiveMaxAge = archiveMaxAge
    }

    /// Arguments of a consumer's main queue: quorum, redelivery capped, dead letters to its DLQ
    /// without loss (`at-least-once` needs `reject-publish`).
    public static func mainQueueArguments(_ consumer: ConsumerQueue) -> AMQPTable {
        [
            "x-queue-type": .string("quorum"),
            "x-delivery-limit": .int(Int64(consumer.deliveryLimit)),
            "x-dead-letter-exchange": .string(""),
            "x-dead-letter-routing-key": .string(consumer.deadLetterQueue),
            "x-dead-letter-strategy": .string("at-least-once"),
            "x-overflow": .string("reject-publish"),
        ]
    }

    /// Arguments of a retry tier: messages wait `delay` ms, then go back to the consumer's own
    /// queue through the default exchange (never through the producer's exchange, which would
    /// copy them to every subscriber).
    public static func retryQueueArguments(_ consumer: ConsumerQueue, delay: Int) -> AMQPTable {
        [
            "x-queue-type": .string("quorum"),
            "x-message-ttl": .int(Int64(delay)),
            "x-dead-letter-exchange": .string(""),
            "x-dead-letter-routing-key": .string(consumer.queue),
            "x-dead-letter-strategy": .string("at-least-once"),
            "x-overflow": .string("reject-publish"),
        ]
    }

    public static let deadLetterQueueArguments: AMQPTable = ["x-queue-type": .string("quorum")]

    public func archiveArguments() -> AMQPTable {
        ["x-queue-type": .string("stream"), "x-max-age": .string(archiveMaxAge)]
    }
}
