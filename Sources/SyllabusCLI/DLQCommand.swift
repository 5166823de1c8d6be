import ArgumentParser
import Contracts
import Foundation
import MessageBus
import ServiceKit

struct DLQCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlq", abstract: "Inspect and redrive dead-lettered events.", subcommands: [List.self, Redrive.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what is in <service>.dlq and why, without removing anything.")

        @Argument(help: "The consuming service (identity, billing, content, progress, notifications).")
        var service: String

        @Option(help: "Show at most this many.")
        var limit = 100

        @Option(help: "An administrator's AMQP URL (default: $ADMIN_AMQP_URL).")
        var amqpURL: String?

        func run() async throws {
            let admin = try AMQPAdmin(url: try setting(amqpURL, env: "ADMIN_AMQP_URL"))
            let messages = try await admin.peek(queue: "\(service).dlq", limit: limit)
            if messages.isEmpty {
                print("\(service).dlq is empty")
                return
            }
            for message in messages {
                let headers = message.properties.headers
                func header(_ name: String) -> String { headers[name].map { "\($0)" } ?? "-" }
                print("\(message.properties.messageID ?? "-")  \(message.properties.type ?? message.routingKey)")
                print("  handler: \(header(EventConsumerService.Header.handler))  attempts: \(header(EventConsumerService.Header.attempts))")
                print("  first failed: \(header(EventConsumerService.Header.firstFailedAt))  last: \(header(EventConsumerService.Header.lastFailedAt))")
                print("  error: \(header(EventConsumerService.Header.error))")
                if case .array(let deaths)? = headers["x-death"], case .table(let death)? = deaths.first {
                    print("  broker: \(death["reason"].map { "\($0)" } ?? "-") from \(death["queue"].map { "\($0)" } ?? "-")")
                }
            }
            print("\(messages.count) message(s)")
        }
    }

    struct Redrive: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send dead-lettered events back to the service's queue, with their attempts reset.")

        @Argument(help: "The consuming service.")
        var service: String

        @Option(name: .customLong("id"), help: "Only the event with this id (repeatable). Default: all.")
        var ids: [String] = []

        @Option(help: "An administrator's AMQP URL (default: $ADMIN_AMQP_URL).")
        var amqpURL: String?

        func run() async throws {
            let admin = try AMQPAdmin(url: try setting(amqpURL, env: "ADMIN_AMQP_URL"))
            let wanted = Set(ids)
            let moved = try await admin.move(from: "\(service).dlq", to: service) { message in
                guard wanted.isEmpty || wanted.contains(message.properties.messageID ?? "") else { return nil }
                return DLQCommand.redriven(message.properties)
            }
            print("redrove \(moved.count) event(s) to \(service)")
        }
    }

    /// The properties of a redriven event: failure history dropped, so it gets every attempt again.
    static func redriven(_ properties: AMQPProperties) -> AMQPProperties {
        var properties = properties
        for key in properties.headers.keys where key.hasPrefix("x-syllabus-") || key == "x-death" || key.hasPrefix("x-first-death") || key.hasPrefix("x-last-death") {
            properties.headers[key] = nil
        }
        properties.headers["x-syllabus-redriven-at"] = .string(RFC3339.format(Date()))
        return properties
    }
}
