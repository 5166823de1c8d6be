import Contracts
import Database
import Foundation
import MessageBus
import ServiceKit
import Testing
import TestSupport

/// A billing-owned type of the tests' own: real services never bind its routing key.
struct ProvenanceProbe: DomainEvent {
    static let eventType = EventType(producer: .billing, name: "provenance.probe", majorVersion: 1)
    var run: String
    var label: String
    var subject: String { run }
}

/// A consumer believes only what came through the exchange of the producer its envelope names
/// (or back through its own retry path); the rest is quarantined and never redriven.
@Suite struct ProvenanceTests {
    /// The envelope of a probe, with any attribute overridden.
    static func body(run: String, label: String, source: String? = nil, type: String? = nil) throws -> (id: String, body: [UInt8]) {
        var object = try JSONSerialization.jsonObject(with: Data(EventCoding.encode(CloudEvent(ProvenanceProbe(run: run, label: label), sequence: 1)))) as! [String: Any]
        if let source { object["source"] = source }
        if let type { object["type"] = type }
        return (object["id"] as! String, Array(try JSONSerialization.data(withJSONObject: object)))
    }

    @Test func forgedMessagesAreQuarantinedUnknownGenuineOnesAcknowledgedAndNothingForgedIsRedriven() async throws {
        try await withTemporarySchema { pool, schema in
            try await Migrator(schema: schema, migrations: [
                Outbox.migration(version: 1),
                Outbox.relayMigration(version: 2),
                Migration(version: 3, name: "effects", sql: "CREATE TABLE effects (label text NOT NULL)"),
            ]).migrate(pool, logger: TestEnvironment.logger)
            let url = try TestEnvironment.value("ADMIN_AMQP_URL")
            let admin = try AMQPAdmin(url: url)
            let queue = "test.provenance.\(schema)"
            let key = ProvenanceProbe.eventType.routingKey
            let unknownKey = "billing.provenance.newer.v7"
            // Bound where a forger might reach it: billing's exchange (genuine), analytics' and
            // identity's (whose users may publish there) with the same keys.
            _ = try await admin.apply(Topology(exchanges: [], consumers: [
                .init(
                    service: queue,
                    bindings: [
                        .init(exchange: "billing.events", routingKey: key), .init(exchange: "billing.events", routingKey: unknownKey),
                        .init(exchange: "analytics.events", routingKey: key), .init(exchange: "identity.events", routingKey: key),
                    ],
                    retryDelays: [100]),
            ]))
            let publisher = try AMQPPublisher(url: url, name: "test", logger: TestEnvironment.logger)
            defer { publisher.shutdown() }
            let runID = UUID().uuidString
            func send(_ exchange: String, _ routingKey: String, _ message: (id: String, body: [UInt8])) async throws {
                let outcome = try await publisher.publish(
                    OutgoingMessage(exchange: exchange, routingKey: routingKey, body: message.body, properties: AMQPProperties(messageID: message.id)))
                #expect(outcome == .confirmed, "\(exchange) [\(routingKey)]")
            }
            let genuine = try Self.body(run: runID, label: "genuine")
            try await send("billing.events", key, genuine)
            let unknown = try Self.body(run: runID, label: "newer", type: "org.syllabus.billing.provenance.newer.v7")
            try await send("billing.events", unknownKey, unknown)
            // The forgeries: each disagrees with the catalogue in one way.
            let wrongExchange = try Self.body(run: runID, label: "wrong exchange")
            try await send("analytics.events", key, wrongExchange)
            let defaultExchange = try Self.body(run: runID, label: "default exchange")
            try await send("", queue, defaultExchange)
            let wrongSource = try Self.body(run: runID, label: "wrong source", source: "/syllabus/analytics")
            try await send("billing.events", key, wrongSource)
            let wrongType = try Self.body(run: runID, label: "wrong type", type: "org.syllabus.identity.user.deleted.v1")
            try await send("billing.events", key, wrongType)
            let privateInPublic = try Self.body(
                run: runID, label: "private type", source: "/syllabus/identity", type: IdentityPasswordResetLinkV1.eventType.cloudEventType)
            try await send("identity.events", key, privateInPublic)
            let forged = [wrongExchange, defaultExchange, wrongSource, wrongType, privateInPublic].map(\.id)

            let handler = EventHandler(ProvenanceProbe.self, name: "effects") { event, connection in
                try connection.execute("INSERT INTO effects (label) VALUES (\(event.data.label))")
            }
            let consumer = try EventConsumerService(
                service: .billing, queue: queue, amqpURL: url, prefetch: 10, database: pool, publisher: publisher,
                retry: RetryPolicy(delays: [100], maxAttempts: 2), handlers: [handler], logger: TestEnvironment.logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await consumer.run() }
                try await eventually("every message judged") {
                    let counts = consumer.statistics
                    return counts.handled == 1 && counts.unknown == 1 && counts.forged == forged.count
                }
                try await eventually("the forgeries in the DLQ") { try await admin.messageCount(queue: "\(queue).dlq") == forged.count }
                group.cancelAll()
            }
            let labels = try await pool.query("SELECT label FROM effects").map { try $0.decode("label", as: String.self) }
            #expect(labels == ["genuine"], "nothing forged was applied")
            #expect(try await admin.messageCount(queue: queue) == 0, "the unknown type was acknowledged, not left or requeued")

            let dead = try await admin.peek(queue: "\(queue).dlq", limit: 10)
            #expect(Set(dead.compactMap(\.properties.messageID)) == Set(forged))
            for message in dead {
                #expect(message.properties.headers[EventConsumerService.Header.reason] == .string("forged"))
            }

            let environment = try TestEnvironment.values().merging(["PATH": ProcessInfo.processInfo.environment["PATH"] ?? ""]) { $1 }
            let syllabus = try TestEnvironment.binaryDirectory().appendingPathComponent("syllabus").path
            let one = try run(syllabus, ["dlq", "redrive", queue, "--id", wrongSource.id], environment: environment, timeout: 60)
            #expect(one.status != 0, "asked for a forged message by id: refused\n\(one.output)")
            #expect(one.output.contains("refused 1 forged"))
            let all = try run(syllabus, ["dlq", "redrive", queue], environment: environment, timeout: 60)
            #expect(all.status == 0, "\(all.output)")
            #expect(all.output.contains("redrove 0 event(s)"))
            #expect(all.output.contains("refused \(forged.count) forged"))
            #expect(try await admin.messageCount(queue: "\(queue).dlq") == forged.count, "every forgery stays quarantined")
            #expect(try await admin.messageCount(queue: queue) == 0)
            for name in [queue, "\(queue).dlq", "\(queue).retry.100"] { try? await admin.deleteQueue(name) }
        }
    }

    @Test func theJudgementFollowsTheCatalogue() {
        let retry = "billing.retry"
        func judge(_ exchange: String, _ source: String, _ type: String) -> Provenance {
            Provenance.judge(exchange: exchange, retryExchange: retry, source: source, type: type)
        }
        #expect(judge("identity.events", "/syllabus/identity", "org.syllabus.identity.user.deleted.v1") == .genuine(.identity))
        #expect(judge("identity.private", "/syllabus/identity", "org.syllabus.identity.password.reset_link.v1") == .genuine(.identity))
        #expect(judge("identity.events", "/syllabus/identity", "org.syllabus.identity.something.new.v1") == .genuine(.identity))
        #expect(judge(retry, "/syllabus/identity", "org.syllabus.identity.user.deleted.v1") == .ownRetry)
        for (exchange, source, type) in [
            ("analytics.events", "/syllabus/identity", "org.syllabus.identity.user.deleted.v1"),
            ("identity.events", "/syllabus/analytics", "org.syllabus.identity.user.deleted.v1"),
            ("analytics.events", "/syllabus/analytics", "org.syllabus.identity.user.deleted.v1"),
            ("", "/syllabus/identity", "org.syllabus.identity.user.deleted.v1"),
            ("identity.events", "/syllabus/identity", "org.syllabus.identity.password.reset_link.v1"),
            ("identity.private", "/syllabus/identity", "org.syllabus.identity.user.deleted.v1"),
            ("content.retry", "/syllabus/identity", "org.syllabus.identity.user.deleted.v1"),
        ] {
            guard case .forged = judge(exchange, source, type) else {
                Issue.record("\(exchange) \(source) \(type) was believed")
                continue
            }
        }
    }
}
