import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MessageBus
import Testing
import TestSupport

/// A queue and exchange of the test's own on the test broker, removed afterwards.
func withTemporaryQueue<T: Sendable>(
    bindingKey: String = "#", _ body: (AMQPAdmin, _ exchange: String, _ queue: String) async throws -> T
) async throws -> T {
    let admin = try AMQPAdmin(url: try TestEnvironment.value("ADMIN_AMQP_URL"))
    let suffix = UUID().uuidString.prefix(8).lowercased()
    let exchange = "test.\(suffix)", queue = "test.\(suffix)"
    try await admin.declareExchange(exchange)
    try await admin.declareQueue(queue, durable: false)
    try await admin.bind(queue: queue, exchange: exchange, routingKey: bindingKey)
    defer {
        Task { try? await admin.deleteQueue(queue) }
    }
    return try await body(admin, exchange, queue)
}

func message(_ exchange: String, _ key: String, _ n: Int) -> OutgoingMessage {
    OutgoingMessage(
        exchange: exchange, routingKey: key, body: Array("\(n)".utf8),
        properties: AMQPProperties(contentType: "text/plain", messageID: "m-\(n)", headers: ["n": .int(Int64(n))]))
}

@Suite struct MessageBusIntegrationTests {
    @Test func publisherConfirmsAPipelinedBatchBeyondTheWindow() async throws {
        try await withTemporaryQueue { admin, exchange, queue in
            let publisher = try AMQPPublisher(
                url: try TestEnvironment.value("ADMIN_AMQP_URL"), name: "test", confirmWindow: 100, logger: TestEnvironment.logger)
            defer { publisher.shutdown() }
            let outcomes = try await publisher.publish((0..<2500).map { message(exchange, "k", $0) })
            #expect(outcomes.count == 2500)
            #expect(outcomes.allSatisfy { $0 == .confirmed })
            #expect(try await admin.messageCount(queue: queue) == 2500, "confirmed means enqueued")
        }
    }

    @Test func unroutableMandatoryMessagesComeBackAsReturned() async throws {
        try await withTemporaryQueue(bindingKey: "only.this") { _, exchange, _ in
            let publisher = try AMQPPublisher(url: try TestEnvironment.value("ADMIN_AMQP_URL"), name: "test", logger: TestEnvironment.logger)
            defer { publisher.shutdown() }
            let outcomes = try await publisher.publish([
                message(exchange, "only.this", 1), message(exchange, "nobody.listens", 2), message(exchange, "only.this", 3),
            ])
            #expect(outcomes[0] == .confirmed)
            #expect(outcomes[1] == .returned(code: 312, text: "NO_ROUTE"))
            #expect(outcomes[2] == .confirmed)
        }
    }

    @Test func consumerReceivesInOrderWithPropertiesAndAcks() async throws {
        try await withTemporaryQueue { admin, exchange, queue in
            let url = try TestEnvironment.value("ADMIN_AMQP_URL")
            let publisher = try AMQPPublisher(url: url, name: "test", logger: TestEnvironment.logger)
            defer { publisher.shutdown() }
            _ = try await publisher.publish((0..<300).map { message(exchange, "k", $0) })
            let consumer = try AMQPConsumer(url: url, queue: queue, prefetch: 10, name: "test", logger: TestEnvironment.logger)
            var received: [Int] = []
            for await delivery in consumer.deliveries {
                received.append(Int(String(decoding: delivery.body, as: UTF8.self))!)
                #expect(delivery.properties.messageID == "m-\(received.last!)")
                #expect(delivery.properties.headers["n"] == .int(Int64(received.last!)))
                #expect(delivery.properties.persistent)
                consumer.ack(delivery)
                if received.count == 300 { break }
            }
            #expect(received == Array(0..<300))
            consumer.stop()
            try await eventually("the acks to reach the broker") { try await admin.messageCount(queue: queue) == 0 }
        }
    }

    @Test func unacknowledgedDeliveriesAreRedeliveredToTheNextConsumer() async throws {
        try await withTemporaryQueue { _, exchange, queue in
            let url = try TestEnvironment.value("ADMIN_AMQP_URL")
            let publisher = try AMQPPublisher(url: url, name: "test", logger: TestEnvironment.logger)
            defer { publisher.shutdown() }
            _ = try await publisher.publish((0..<5).map { message(exchange, "k", $0) })
            let first = try AMQPConsumer(url: url, queue: queue, prefetch: 5, name: "first", logger: TestEnvironment.logger)
            var seen = 0
            for await delivery in first.deliveries {
                #expect(!delivery.redelivered)
                seen += 1
                if seen == 5 { break }
            }
            first.stop() // crashes, in effect: nothing was acknowledged
            let second = try AMQPConsumer(url: url, queue: queue, prefetch: 5, name: "second", logger: TestEnvironment.logger)
            defer { second.stop() }
            var again: [Int] = []
            for await delivery in second.deliveries {
                #expect(delivery.redelivered)
                again.append(Int(String(decoding: delivery.body, as: UTF8.self))!)
                second.ack(delivery)
                if again.count == 5 { break }
            }
            #expect(again.sorted() == [0, 1, 2, 3, 4])
        }
    }

    /// The broker tells a consumer it has dropped (here: its queue was deleted) with basic.cancel,
    /// which it sends only to clients that announce `consumer_cancel_notify`; the consumer then
    /// consumes again once it can, instead of waiting on a live connection for deliveries that
    /// never come.
    @Test func aConsumerTheBrokerCancelsConsumesAgain() async throws {
        try await withTemporaryQueue { admin, exchange, queue in
            let url = try TestEnvironment.value("ADMIN_AMQP_URL")
            let publisher = try AMQPPublisher(url: url, name: "test", logger: TestEnvironment.logger)
            defer { publisher.shutdown() }
            let consumer = try AMQPConsumer(url: url, queue: queue, prefetch: 5, name: "cancelled", logger: TestEnvironment.logger)
            defer { consumer.stop() }
            var deliveries = consumer.deliveries.makeAsyncIterator()
            #expect(try await publisher.publish(message(exchange, "k", 1)) == .confirmed)
            let first = try #require(await deliveries.next())
            consumer.ack(first)
            #expect(consumer.isConsuming)

            try await admin.deleteQueue(queue)
            try await eventually(timeout: .seconds(10), "the consumer to learn it was cancelled") { !consumer.isConsuming }
            try await admin.declareQueue(queue, durable: false)
            try await admin.bind(queue: queue, exchange: exchange, routingKey: "#")
            try await eventually(timeout: .seconds(20), "the consumer to consume the queue again") { consumer.isConsuming }
            #expect(try await publisher.publish(message(exchange, "k", 2)) == .confirmed)
            let second = try #require(await deliveries.next())
            #expect(String(decoding: second.body, as: UTF8.self) == "2")
            consumer.ack(second)
        }
    }

    @Test func serviceUsersCannotPublishToAnotherServicesExchange() async throws {
        let publisher = try AMQPPublisher(url: try TestEnvironment.value("BILLING_AMQP_URL"), name: "test", logger: TestEnvironment.logger)
        defer { publisher.shutdown() }
        await #expect(throws: AMQPError.self) {
            _ = try await publisher.publish(message("identity.events", "identity.user.registered.v1", 1))
        }
    }

    /// A broker that an earlier topology declared (retries through the default exchange) takes the
    /// new one: an empty queue is replaced, one still holding messages is reported and kept.
    @Test func applyingReplacesAnEmptyQueueOfAnEarlierTopologyAndKeepsOneWithMessages() async throws {
        let admin = try AMQPAdmin(url: try TestEnvironment.value("ADMIN_AMQP_URL"))
        let name = "test.upgrade.\(UUID().uuidString.prefix(8).lowercased())"
        let consumer = Topology.ConsumerQueue(service: name, bindings: [], retryDelays: [100])
        var old = Topology.mainQueueArguments(consumer)
        old["x-dead-letter-exchange"] = .string("")
        var oldRetry = Topology.retryQueueArguments(consumer, delay: 100)
        oldRetry["x-dead-letter-exchange"] = .string("")
        try await admin.declareQueue(consumer.queue, arguments: old)
        try await admin.declareQueue(consumer.retryQueue(delay: 100), arguments: oldRetry)
        let publisher = try AMQPPublisher(url: try TestEnvironment.value("ADMIN_AMQP_URL"), name: "test", logger: TestEnvironment.logger)
        defer { publisher.shutdown() }
        #expect(try await publisher.publish(message("", consumer.queue, 1)) == .confirmed)

        await #expect(throws: AMQPError.self, "a queue with a message in it is never dropped") {
            _ = try await admin.apply(Topology(exchanges: [], consumers: [consumer]))
        }
        #expect(try await admin.messageCount(queue: consumer.queue) == 1)
        _ = try await admin.drain(queue: consumer.queue, limit: 10)
        let done = try await admin.apply(Topology(exchanges: [], consumers: [consumer]))
        #expect(done.contains("queue \(consumer.queue) replaced (its arguments changed)"), "\(done)")
        #expect(done.contains("queue \(consumer.retryQueue(delay: 100)) replaced (its arguments changed)"), "\(done)")
        // The new queue takes what comes through its retry exchange.
        #expect(try await publisher.publish(message(consumer.retryExchange, consumer.queue, 2)) == .confirmed)
        try await eventually("the message through the retry exchange") { try await admin.messageCount(queue: consumer.queue) == 1 }
        for queue in [consumer.queue, consumer.deadLetterQueue, consumer.retryQueue(delay: 100)] { try? await admin.deleteQueue(queue) }
    }
}

/// The archive keeps events seven days: the broker holds the stream with that age limit (read
/// back from the management API), and drops older segments itself.
@Suite struct ArchiveRetentionTests {
    @Test func theArchiveStreamKeepsSevenDays() async throws {
        let admin = try #require(URLComponents(string: try TestEnvironment.value("ADMIN_AMQP_URL")))
        let vhost = String(admin.path.dropFirst())
        var request = URLRequest(url: try #require(URL(string: "\(try TestEnvironment.value("RABBITMQ_MANAGEMENT_URL"))/api/queues/\(vhost)/events.archive")))
        let credentials = Data("\(admin.user ?? ""):\(admin.password ?? "")".utf8).base64EncodedString()
        request.setValue("Basic \(credentials)", forHTTPHeaderField: "Authorization")
        let (body, response) = try await URLSession.shared.data(for: request)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        let queue = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
        let arguments = try #require(queue["arguments"] as? [String: Any])
        #expect(arguments["x-queue-type"] as? String == "stream")
        #expect(arguments["x-max-age"] as? String == "7D")
    }
}
