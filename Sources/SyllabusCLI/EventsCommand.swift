import ArgumentParser
import Contracts
import Foundation
import Logging
import MessageBus

struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events", abstract: "Read the event history.", subcommands: [Tail.self])

    struct Tail: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print events from events.archive, the stream every exchange feeds, as they come or from the past.")

        @Option(help: "Where to start: next (only new events), first, last, a stream offset, or an RFC 3339 time.")
        var from = "next"

        @Option(help: "Stop after this many events (default: follow until interrupted).")
        var limit: Int?

        @Flag(help: "Print each event's JSON only, one per line.")
        var json = false

        @Option(help: "AMQP URL of a user who may read events.archive (default: $ADMIN_AMQP_URL, else $SUBSCRIBER_AMQP_URL).")
        var amqpURL: String?

        @Argument(help: "A routing-key pattern, as in a binding: identity.*.v1, progress.#")
        var pattern = "#"

        func run() async throws {
            let url = try amqpURL ?? (try? setting(nil, env: "ADMIN_AMQP_URL")) ?? setting(nil, env: "SUBSCRIBER_AMQP_URL")
            let offset: AMQPFieldValue
            switch from {
            case "first", "last", "next": offset = .string(from)
            default:
                if let number = Int64(from) {
                    offset = .int(number)
                } else if let date = RFC3339.parse(from) {
                    offset = .timestamp(UInt64(date.timeIntervalSince1970))
                } else {
                    throw ValidationError("--from takes first, last, next, an offset or an RFC 3339 time")
                }
            }
            var logger = Logger(label: "syllabus.events")
            logger.logLevel = .error
            let consumer = try AMQPConsumer(
                url: url, queue: "events.archive", prefetch: 200, name: "syllabus-tail",
                arguments: ["x-stream-offset": offset], logger: logger)
            defer { consumer.stop() }
            let filter = TopicPattern(pattern)
            var printed = 0
            for await message in consumer.deliveries {
                consumer.ack(message)
                guard filter.matches(message.routingKey) else { continue }
                let body = String(decoding: message.body, as: UTF8.self)
                if json {
                    print(body)
                } else {
                    let position = message.properties.headers["x-stream-offset"]?.intValue.map(String.init) ?? "-"
                    let header = try? EventCoding.decode(CloudEventHeader.self, from: message.body)
                    let time = header.map { RFC3339.format($0.time) } ?? "-"
                    print("\(position)\t\(time)\t\(message.routingKey)\t\(header?.subject ?? "-")\t\(header?.id ?? message.properties.messageID ?? "-")")
                    print("  \(body)")
                }
                printed += 1
                if let limit, printed >= limit { break }
            }
        }
    }
}
