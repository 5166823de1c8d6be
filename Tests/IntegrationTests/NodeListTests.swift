import Foundation
import MessageBus
import Testing
import TestSupport

/// Clients given a list of broker nodes, one of them down: they connect to one that is up.
@Suite struct NodeListTests {
    /// The test broker behind a node that refuses connections (nothing listens on port 1).
    func urlWithADeadNodeFirst() throws -> String {
        let url = try TestEnvironment.value("ADMIN_AMQP_URL")
        guard let components = URLComponents(string: url), let host = components.host, let port = components.port else {
            throw AMQPError.invalidURL("ADMIN_AMQP_URL")
        }
        let dead = url.replacingOccurrences(of: "@\(host):\(port)/", with: "@\(host):1/")
        #expect(dead != url)
        return "\(dead),\(url)"
    }

    @Test func publisherConsumerAndAdminSkipANodeThatIsDown() async throws {
        let url = try urlWithADeadNodeFirst()
        let admin = try AMQPAdmin(url: url)  // tries the dead node first, always
        #expect(admin.endpoint.nodes.count == 2)
        let queue = "test.nodes.\(UUID().uuidString.prefix(8).lowercased())"
        try await admin.declareQueue(queue, durable: false)
        let publisher = try AMQPPublisher(url: url, name: "test-nodes", logger: TestEnvironment.logger)
        defer { publisher.shutdown() }
        let consumer = try AMQPConsumer(url: url, queue: queue, prefetch: 10, name: "test-nodes", logger: TestEnvironment.logger)
        defer { consumer.stop() }
        var sent: [String] = []
        for n in 0..<20 {
            let id = "m\(n)"
            let outcome = try await publisher.publish(
                OutgoingMessage(exchange: "", routingKey: queue, body: Array(id.utf8), properties: AMQPProperties(messageID: id)))
            #expect(outcome == .confirmed)
            sent.append(id)
        }
        var received: [String] = []
        for await delivery in consumer.deliveries {
            received.append(String(decoding: delivery.body, as: UTF8.self))
            consumer.ack(delivery)
            if received.count == sent.count { break }
        }
        #expect(received == sent)
        try await admin.deleteQueue(queue)
    }

    @Test func whenEveryNodeIsDownTheErrorNamesEachOne() async throws {
        let admin = try AMQPAdmin(url: "amqp://u:secret-password@127.0.0.1:1/v,amqp://u:secret-password@127.0.0.1:2/v")
        do {
            _ = try await admin.exchangeExists("amq.topic")
            Issue.record("connected with every node down")
        } catch {
            let text = "\(error)"
            #expect(text.contains("127.0.0.1:1") && text.contains("127.0.0.1:2"), "\(text)")
            #expect(!text.contains("secret-password"))
        }
    }
}
