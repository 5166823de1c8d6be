import Contracts
import Database
import Foundation
import MessageBus
import ServiceKit
import Testing
import TestSupport

/// The `syllabus` command against the test stack, as an operator runs it.
@Suite struct OperatorToolTests {
    func syllabus(_ arguments: [String]) throws -> (status: Int32, output: String) {
        var environment = try TestEnvironment.values()
        environment["PATH"] = ProcessInfo.processInfo.environment["PATH"]
        return try run(try TestEnvironment.binaryDirectory().appendingPathComponent("syllabus").path, arguments, environment: environment, timeout: 60)
    }

    @Test func dlqListShowsWhyAndRedriveMovesChosenEventsBack() async throws {
        let admin = try AMQPAdmin(url: try TestEnvironment.value("ADMIN_AMQP_URL"))
        let service = "ops.\(UUID().uuidString.prefix(8).lowercased())"
        _ = try await admin.apply(Topology(exchanges: [], consumers: [.init(service: service, bindings: [], retryDelays: [100])]))
        let publisher = try AMQPPublisher(url: try TestEnvironment.value("ADMIN_AMQP_URL"), name: "test", logger: TestEnvironment.logger)
        defer { publisher.shutdown() }
        for id in ["first", "second"] {
            let headers: AMQPTable = [
                EventConsumerService.Header.attempts: .int(5), EventConsumerService.Header.handler: .string("projection"),
                EventConsumerService.Header.error: .string("database is down (\(id))"),
                EventConsumerService.Header.firstFailedAt: .string("2026-11-22T10:00:00.000Z"),
                EventConsumerService.Header.lastFailedAt: .string("2026-11-22T10:01:00.000Z"),
            ]
            let outcome = try await publisher.publish(OutgoingMessage(
                exchange: "", routingKey: "\(service).dlq", body: Array("{}".utf8),
                properties: AMQPProperties(messageID: id, type: "org.syllabus.identity.user.registered.v1", headers: headers)))
            #expect(outcome == .confirmed)
        }

        let list = try syllabus(["dlq", "list", service])
        #expect(list.status == 0, "\(list.output)")
        #expect(list.output.contains("database is down (first)"))
        #expect(list.output.contains("handler: projection  attempts: 5"))
        #expect(list.output.contains("2 message(s)"))
        #expect(try await admin.messageCount(queue: "\(service).dlq") == 2, "listing takes nothing away")

        let redrive = try syllabus(["dlq", "redrive", service, "--id", "second"])
        #expect(redrive.status == 0, "\(redrive.output)")
        #expect(redrive.output.contains("redrove 1 event(s)"))
        #expect(try await admin.messageCount(queue: "\(service).dlq") == 1)
        let back = try await admin.drain(queue: service, limit: 10)
        #expect(back.map { $0.properties.messageID } == ["second"])
        #expect(back.first?.properties.headers[EventConsumerService.Header.attempts] == nil, "attempts start over")
        #expect(back.first?.properties.headers["x-syllabus-redriven-at"] != nil)
        for queue in [service, "\(service).dlq", "\(service).retry.100"] { try? await admin.deleteQueue(queue) }
    }

    @Test func eventsTailReadsTheArchiveFromTheStart() async throws {
        let publisher = try AMQPPublisher(url: try TestEnvironment.value("ADMIN_AMQP_URL"), name: "test", logger: TestEnvironment.logger)
        defer { publisher.shutdown() }
        let marker = "tail\(UUID().uuidString.prefix(8).lowercased())"
        let events = (1...3).map { n in
            CloudEvent(IdentityUserRegisteredV1(
                userId: UUIDv7.make().lowercased, email: "\(marker)\(n)@example.com", name: "N\(n)", role: "USER",
                emailVerified: false, marketingOptOut: false, registeredAt: Date()), sequence: 1)
        }
        for event in events {
            // A routing key of this test's own, so the pattern picks out exactly these three.
            let outcome = try await publisher.publish(OutgoingMessage(
                exchange: "identity.events", routingKey: "identity.\(marker).registered.v1", body: try EventCoding.encode(event),
                properties: AMQPProperties(messageID: event.id)))
            #expect(outcome == .confirmed, "the archive stream is bound to every key")
        }
        let tail = try syllabus(["events", "tail", "--from", "first", "--limit", "3", "--json", "identity.\(marker).#"])
        #expect(tail.status == 0, "\(tail.output)")
        let lines = tail.output.split(separator: "\n").filter { $0.hasPrefix("{") }
        #expect(lines.count == 3)
        for (line, event) in zip(lines, events) {
            #expect(line.contains(event.id), "in publish order")
        }
    }

    @Test func staleEventsNeverOverwriteNewerState() async throws {
        try await withTemporarySchema { pool, schema in
            try await Migrator(schema: schema, migrations: [AggregateVersions.migration(version: 1)]).migrate(pool, logger: TestEnvironment.logger)
            let decisions = try await pool.transaction { connection in
                [
                    try AggregateVersions.advance("user", id: "u1", to: 2, on: connection), // first seen
                    try AggregateVersions.advance("user", id: "u1", to: 1, on: connection), // older: stale
                    try AggregateVersions.advance("user", id: "u1", to: 2, on: connection), // repeated
                    try AggregateVersions.advance("user", id: "u1", to: 5, on: connection), // newer
                    try AggregateVersions.advance("user", id: "u2", to: 1, on: connection), // another aggregate
                ]
            }
            #expect(decisions == [true, false, false, true, true])
            let current = try await pool.withConnection { try AggregateVersions.current("user", id: "u1", on: $0) }
            #expect(current == 5)
            // Racing consumers: of many concurrent versions, only increases win and the highest stays.
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for version in (6...40).shuffled() {
                    group.addTask { try await pool.transaction { try AggregateVersions.advance("user", id: "u1", to: Int64(version), on: $0) } }
                }
                var wins = 0
                for try await won in group where won { wins += 1 }
                return wins
            }
            #expect(wins >= 1)
            #expect(try await pool.withConnection { try AggregateVersions.current("user", id: "u1", on: $0) } == 40)
        }
    }
}
