import Foundation
import Logging

/// Short administrative sessions — declaring the topology, inspecting and moving messages — each
/// on a fresh connection and a thread of its own, since librabbitmq calls block.
public struct AMQPAdmin: Sendable {
    public let endpoint: AMQPEndpoint

    public init(url: String) throws {
        endpoint = try AMQPEndpoint(url: url)
    }

    /// Runs `body` with a connection on a dedicated thread and closes the connection after.
    func session<T: Sendable>(_ body: @escaping @Sendable (AMQPConnection) throws -> T) async throws -> T {
        let endpoint = self.endpoint
        return try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result {
                    let connection = try AMQPConnection.open(endpoint)
                    defer { connection.close() }
                    return try body(connection)
                })
            }
            thread.name = "amqp-admin"
            thread.start()
        }
    }

    /// Declares every exchange, queue and binding of `topology`. Declaring is idempotent. A queue
    /// that exists with other arguments (declared by an earlier version of the topology) is
    /// replaced when it is empty; one that still holds messages is reported, never dropped.
    public func apply(_ topology: Topology) async throws -> [String] {
        var done: [String] = try await session { connection in
            var done: [String] = []
            for exchange in topology.exchanges {
                try connection.declareExchange(exchange)
                done.append("exchange \(exchange)")
            }
            for exchange in topology.privateExchanges {
                try connection.declareExchange(exchange)
                done.append("exchange \(exchange) (private: not archived)")
            }
            for consumer in topology.consumers {
                try connection.declareExchange(consumer.retryExchange, type: "direct")
            }
            try connection.declareExchange(topology.archiveExchange, type: "fanout")
            try connection.declareQueue(topology.archive, arguments: topology.archiveArguments())
            try connection.bindQueue(topology.archive, exchange: topology.archiveExchange, routingKey: "")
            done.append("stream \(topology.archive) (max age \(topology.archiveMaxAge)), written through \(topology.archiveExchange)")
            return done
        }
        // The feed is bound before the stream leaves the producers' exchanges (an earlier
        // topology bound it to them directly): while both are bound an event may be archived
        // twice, never missed.
        if let replaced = try await declareReplacingIfEmpty(topology.archiveFeed, arguments: Topology.archiveFeedArguments) {
            done.append(replaced)
        }
        try await session { connection in
            for exchange in topology.exchanges {
                try connection.bindQueue(topology.archiveFeed, exchange: exchange, routingKey: "#")
            }
            for exchange in topology.exchanges {
                try connection.unbindQueue(topology.archive, exchange: exchange, routingKey: "#")
            }
        }
        done.append("queue \(topology.archiveFeed) (\(topology.exchanges.count) bindings, one consumer at a time: the archiver)")
        for consumer in topology.consumers {
            var queues: [(name: String, arguments: AMQPTable)] = [
                (consumer.deadLetterQueue, Topology.deadLetterQueueArguments),
                (consumer.queue, Topology.mainQueueArguments(consumer)),
            ]
            for delay in consumer.retryDelays {
                queues.append((consumer.retryQueue(delay: delay), Topology.retryQueueArguments(consumer, delay: delay)))
            }
            for queue in queues {
                if let replaced = try await declareReplacingIfEmpty(queue.name, arguments: queue.arguments) { done.append(replaced) }
            }
            let declared = queues
            try await session { connection in
                for queue in declared {
                    try connection.bindQueue(queue.name, exchange: consumer.retryExchange, routingKey: queue.name)
                }
                for binding in consumer.bindings {
                    try connection.bindQueue(consumer.queue, exchange: binding.exchange, routingKey: binding.routingKey)
                }
            }
            done.append(
                "queue \(consumer.queue) (\(consumer.bindings.count) bindings, DLQ, \(consumer.retryDelays.count) retry tiers, "
                    + "retry exchange \(consumer.retryExchange))")
        }
        return done
    }

    /// Declares a queue; if it exists with other arguments and is empty, deletes and declares it
    /// again. Returns a note when it replaced one.
    private func declareReplacingIfEmpty(_ name: String, arguments: AMQPTable) async throws -> String? {
        do {
            try await declareQueue(name, arguments: arguments)
            return nil
        } catch let error as AMQPError {
            guard case .channelClosed(406, _) = error else { throw error }
            let messages = try await messageCount(queue: name)
            guard messages == 0 else {
                throw AMQPError.connection(
                    "queue \(name) exists with other arguments and holds \(messages) message(s); drain it, then apply again")
            }
            try await deleteQueue(name)
            try await declareQueue(name, arguments: arguments)
            return "queue \(name) replaced (its arguments changed)"
        }
    }

    /// Checks that a queue exists (a passive declare) and returns its message count.
    public func messageCount(queue: String) async throws -> Int {
        try await session { try $0.declareQueue(queue, passive: true).messages }
    }

    /// Checks that an exchange exists.
    public func exchangeExists(_ exchange: String) async throws -> Bool {
        do {
            try await session { try $0.declareExchange(exchange, passive: true) }
            return true
        } catch let error as AMQPError where error.isNotFound {
            return false
        }
    }

    /// Declares a queue with the given arguments, trying again while the broker cannot form a
    /// replicated queue's Raft cluster in time (541 `cluster_not_formed`, which a busy node
    /// answers). The broker removes the queue it failed to start, so declaring again is safe.
    @discardableResult
    public func declareQueue(
        _ name: String, durable: Bool = true, exclusive: Bool = false, autoDelete: Bool = false, arguments: AMQPTable = [:]
    ) async throws -> String {
        var pause: Duration = .milliseconds(250)
        var attempts = 1
        while true {
            do {
                return try await session {
                    try $0.declareQueue(name, durable: durable, exclusive: exclusive, autoDelete: autoDelete, arguments: arguments).name
                }
            } catch let error as AMQPError where error.isClusterNotFormed && attempts < 6 {
                try await Task.sleep(for: pause)
                pause *= 2
                attempts += 1
            }
        }
    }

    public func declareExchange(_ name: String, type: String = "topic", durable: Bool = true) async throws {
        try await session { try $0.declareExchange(name, type: type, durable: durable) }
    }

    public func bind(queue: String, exchange: String, routingKey: String) async throws {
        try await session { try $0.bindQueue(queue, exchange: exchange, routingKey: routingKey) }
    }

    public func deleteQueue(_ name: String) async throws {
        try await session { try $0.deleteQueue(name) }
    }

    public func purgeQueue(_ name: String) async throws {
        try await session { try $0.purgeQueue(name) }
    }

    /// Takes up to `limit` messages off a queue with basic.get, acknowledging each.
    public func drain(queue: String, limit: Int) async throws -> [IncomingMessage] {
        try await session { connection in
            var messages: [IncomingMessage] = []
            while messages.count < limit, let message = try connection.get(queue: queue, generation: 0) {
                try connection.ack(message.deliveryTag)
                messages.append(message)
            }
            return messages
        }
    }

    /// Reads up to `limit` messages of a queue without taking them: they go back to the queue,
    /// in order, when the session closes.
    public func peek(queue: String, limit: Int) async throws -> [IncomingMessage] {
        try await session { connection in
            var messages: [IncomingMessage] = []
            while messages.count < limit, let message = try connection.get(queue: queue, generation: 0) {
                messages.append(message)
            }
            return messages
        }
    }

    /// Moves messages from one queue to another through `exchange` (the target queue's name is the
    /// routing key): each is published (confirmed, mandatory) before it is acknowledged at the
    /// source, so none is lost on the way. `transform` decides per message: nil leaves it where it
    /// is. Returns the moved ones.
    public func move(
        from source: String, to target: String, through exchange: String = "", limit: Int = .max,
        transform: @escaping @Sendable (IncomingMessage) -> AMQPProperties?
    ) async throws -> [IncomingMessage] {
        try await session { connection in
            try connection.enableConfirms()
            var tag: UInt64 = 0
            var moved: [IncomingMessage] = []
            while moved.count < limit, let message = try connection.get(queue: source, generation: 0) {
                guard let properties = transform(message) else { continue } // left unacknowledged: back on close
                try connection.publish(OutgoingMessage(exchange: exchange, routingKey: target, body: message.body, properties: properties, mandatory: true))
                tag += 1
                var returned: String?
                var confirmed: Bool?
                while confirmed == nil {
                    guard let frame = try connection.nextFrame(timeout: 30) else {
                        throw AMQPError.timeout("no confirm while moving a message to \(target)")
                    }
                    switch frame {
                    case .returned(let code, let text, _): returned = "\(code) \(text)"
                    case .ack(let acked, let multiple) where acked == tag || (multiple && acked >= tag): confirmed = true
                    case .nack(let nacked, let multiple) where nacked == tag || (multiple && nacked >= tag): confirmed = false
                    default: break
                    }
                }
                guard confirmed == true, returned == nil else {
                    throw AMQPError.connection("moving to \(target) failed: \(returned ?? "nacked")")
                }
                try connection.ack(message.deliveryTag)
                moved.append(message)
            }
            return moved
        }
    }
}
