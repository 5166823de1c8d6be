/// The broker objects of the system: one topic exchange per producer (archived), private topic
/// exchanges for what only named consumers may read (never archived), one quorum queue per
/// consumer with its own retry exchange, retry tiers and dead-letter queue, and the archive: the
/// stream, the quorum queue that collects what goes into it (`archiveFeed`, bound to every public
/// exchange) and the exchange its archiver writes through (`archiveExchange`, bound to the stream
/// alone). The stream is bound to no producer's exchange, so that a producer's publish is
/// confirmed by the queues that consume it and never waits for the archive.
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
        /// The consumer's own direct exchange for its retry tiers, its dead-letter queue and the
        /// way back to its queue; each of those queues is bound to it by its own name. Only the
        /// consumer (and an administrator redriving) may publish to it.
        public var retryExchange: String { Topology.retryExchange(of: queue) }
    }

    /// The retry exchange of a consumer queue.
    public static func retryExchange(of queue: String) -> String { "\(queue).retry" }

    public struct Binding: Sendable, Equatable, Hashable {
        public var exchange: String
        public var routingKey: String
        public init(exchange: String, routingKey: String) {
            self.exchange = exchange
            self.routingKey = routingKey
        }
    }

    /// The producers' public exchanges, all bound to the archive.
    public var exchanges: [String]
    /// Exchanges whose messages only their bound consumers read: never bound to the archive.
    public var privateExchanges: [String]
    public var consumers: [ConsumerQueue]
    public var archive: String
    /// How long the archive keeps events (a RabbitMQ duration: `7D`, `12h` …).
    public var archiveMaxAge: String

    public init(
        exchanges: [String], privateExchanges: [String] = [], consumers: [ConsumerQueue], archive: String = "events.archive",
        archiveMaxAge: String = "7D"
    ) {
        self.exchanges = exchanges
        self.privateExchanges = privateExchanges
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
            "x-dead-letter-exchange": .string(consumer.retryExchange),
            "x-dead-letter-routing-key": .string(consumer.deadLetterQueue),
            "x-dead-letter-strategy": .string("at-least-once"),
            "x-overflow": .string("reject-publish"),
        ]
    }

    /// Arguments of a retry tier: messages wait `delay` ms, then go back to the consumer's own
    /// queue through its retry exchange (never through the producer's exchange, which would copy
    /// them to every subscriber, nor the default exchange, which no service may write to).
    public static func retryQueueArguments(_ consumer: ConsumerQueue, delay: Int) -> AMQPTable {
        [
            "x-queue-type": .string("quorum"),
            "x-message-ttl": .int(Int64(delay)),
            "x-dead-letter-exchange": .string(consumer.retryExchange),
            "x-dead-letter-routing-key": .string(consumer.queue),
            "x-dead-letter-strategy": .string("at-least-once"),
            "x-overflow": .string("reject-publish"),
        ]
    }

    public static let deadLetterQueueArguments: AMQPTable = ["x-queue-type": .string("quorum")]

    /// The quorum queue every public event is copied into on its way to the archive.
    public var archiveFeed: String { "\(archive).feed" }
    /// The fanout exchange the archiver publishes the feed's messages to: bound to the stream alone.
    public var archiveExchange: String { "\(archive).in" }

    /// Arguments of the archive's feed: quorum, and one consumer at a time (whichever replica of
    /// the archiver came first), so that the stream keeps the order the feed received.
    public static let archiveFeedArguments: AMQPTable = [
        "x-queue-type": .string("quorum"), "x-single-active-consumer": .bool(true),
    ]

    public func archiveArguments() -> AMQPTable {
        ["x-queue-type": .string("stream"), "x-max-age": .string(archiveMaxAge)]
    }
}
