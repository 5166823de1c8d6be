import ArgumentParser
import Foundation
import MessageBus
import ServiceKit

struct TopologyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topology",
        abstract: "The broker's exchanges, queues and bindings, derived from the event contract.",
        subcommands: [Apply.self, Show.self])

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Declare every exchange, queue and binding (idempotent). Needs an administrator's AMQP URL.")

        @Option(help: "AMQP URL of a user allowed to configure the vhost (default: $ADMIN_AMQP_URL).")
        var amqpURL: String?

        @Option(help: "How long events.archive keeps events (RabbitMQ duration, e.g. 7D).")
        var archiveMaxAge = "7D"

        @Option(help: "Delays of the retry tiers in milliseconds (default: $RETRY_DELAYS or 1000,10000,60000); services must use the same.")
        var retryDelays: String?

        func run() async throws {
            let admin = try AMQPAdmin(url: try setting(amqpURL, env: "ADMIN_AMQP_URL"))
            let text = retryDelays ?? ProcessInfo.processInfo.environment["RETRY_DELAYS"]
            let delays = try text.map { text in
                guard let delays = RetryPolicy.delays(from: text) else { throw ValidationError("retry delays must be positive milliseconds: \(text)") }
                return delays
            } ?? RetryPolicy.default.delays
            for line in try await admin.apply(ContractTopology.make(archiveMaxAge: archiveMaxAge, retryDelays: delays)) {
                print("declared \(line)")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the topology without touching the broker.")

        func run() async throws {
            let topology = ContractTopology.make()
            for exchange in topology.exchanges { print("exchange \(exchange) (topic, durable)") }
            for exchange in topology.privateExchanges { print("exchange \(exchange) (topic, durable, private: not archived)") }
            print("stream \(topology.archive) <- # from every public exchange")
            for consumer in topology.consumers {
                print("queue \(consumer.queue) (quorum, delivery limit \(consumer.deliveryLimit), DLQ \(consumer.deadLetterQueue))")
                print("  retry exchange \(consumer.retryExchange) (direct): \(consumer.retryDelays.map { consumer.retryQueue(delay: $0) }.joined(separator: ", ")), \(consumer.deadLetterQueue), \(consumer.queue)")
                for binding in consumer.bindings { print("  <- \(binding.exchange) [\(binding.routingKey)]") }
            }
        }
    }
}
