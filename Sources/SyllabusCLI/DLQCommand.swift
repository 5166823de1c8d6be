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
                print("  reason: \(header(EventConsumerService.Header.reason))  error: \(header(EventConsumerService.Header.error))")
                if case .array(let deaths)? = headers["x-death"], case .table(let death)? = deaths.first {
                    print("  broker: \(death["reason"].map { "\($0)" } ?? "-") from \(death["queue"].map { "\($0)" } ?? "-")")
                }
            }
            print("\(messages.count) message(s)")
        }
    }

    struct Redrive: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send dead-lettered events back to the service's queue, with their attempts reset. Forged messages are never sent back.")

        @Argument(help: "The consuming service.")
        var service: String

        @Option(name: .customLong("id"), help: "Only the event with this id (repeatable). Default: all.")
        var ids: [String] = []

        @Option(help: "An administrator's AMQP URL (default: $ADMIN_AMQP_URL).")
        var amqpURL: String?

        func run() async throws {
            let admin = try AMQPAdmin(url: try setting(amqpURL, env: "ADMIN_AMQP_URL"))
            let wanted = Set(ids)
            let refused = RefusedIDs()
            // Through the queue's own retry exchange: the consumer handles what comes that way as
            // the original it judged when it first arrived.
            let moved = try await admin.move(from: "\(service).dlq", to: service, through: Topology.retryExchange(of: service)) { message in
                guard wanted.isEmpty || wanted.contains(message.properties.messageID ?? "") else { return nil }
                guard !DLQCommand.isForged(message.properties) else {
                    refused.add(message.properties.messageID ?? "-")
                    return nil
                }
                return DLQCommand.redriven(message.properties)
            }
            print("redrove \(moved.count) event(s) to \(service)")
            let forged = refused.all
            if !forged.isEmpty {
                print("refused \(forged.count) forged message(s), left in \(service).dlq: \(forged.joined(separator: ", "))")
                if !wanted.isEmpty { throw ExitCode(3) }
            }
        }
    }

    /// Whether the consumer quarantined the message as forged: such a message is never redriven.
    static func isForged(_ properties: AMQPProperties) -> Bool {
        properties.headers[EventConsumerService.Header.reason]?.stringValue == EventConsumerService.forgedReason
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

/// The ids of the messages a redrive refused (collected on the admin session's thread).
final class RefusedIDs: @unchecked Sendable {
    private let lock = NSLock()
    private var ids: [String] = []

    func add(_ id: String) { lock.withLock { ids.append(id) } }
    var all: [String] { lock.withLock { ids } }
}
