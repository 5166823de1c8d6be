import Contracts
import Database
import Foundation
import MessageBus
import ServiceKit
import Testing
import TestSupport

/// An event type for these tests only, published on identity's exchange under a key no service
/// consumes.
struct TestSequenced: DomainEvent {
    static let eventType = EventType(producer: .identity, name: "test.sequenced", majorVersion: 1)
    var aggregate: String
    var n: Int
    var subject: String { aggregate }
}

@Suite(.serialized) struct OutboxInboxTests {
    @Test func relayPublishesTheOutboxInCommitOrderAndForgetsWhatWasConfirmed() async throws {
        try await withTemporarySchema { pool, schema in
            try await Migrator(schema: schema, migrations: Outbox.migrations(from: 1)).migrate(pool, logger: TestEnvironment.logger)
            let url = try TestEnvironment.value("ADMIN_AMQP_URL")
            let admin = try AMQPAdmin(url: url)
            let queue = "test.outbox.\(schema)"
            try await admin.declareQueue(queue, durable: false)
            try await admin.bind(queue: queue, exchange: "identity.events", routingKey: TestSequenced.eventType.routingKey)
            defer { Task { try? await admin.deleteQueue(queue) } }

            let aggregate = UUID().uuidString
            for n in 1...300 {
                try await pool.transaction { connection in
                    try Outbox.enqueue(CloudEvent(TestSequenced(aggregate: aggregate, n: n), sequence: Int64(n)), on: connection)
                }
            }
            // A rolled-back transaction leaves no event behind.
            struct Abort: Error {}
            await #expect(throws: Abort.self) {
                try await pool.transaction { connection in
                    try Outbox.enqueue(CloudEvent(TestSequenced(aggregate: aggregate, n: 999), sequence: 999), on: connection)
                    throw Abort()
                }
            }

            let adminDB = try TestEnvironment.value("ADMIN_DATABASE_URL")
            let publisher = try AMQPPublisher(url: url, name: "test-relay", logger: TestEnvironment.logger)
            let relay = OutboxRelay(
                service: .identity, databaseURL: adminDB, searchPath: schema, lockName: schema, publisher: publisher,
                batchSize: 64, logger: TestEnvironment.logger)
            let consumer = try AMQPConsumer(url: url, queue: queue, prefetch: 50, name: "test", logger: TestEnvironment.logger)
            let received = try await withThrowingTaskGroup(of: [Int].self) { group in
                group.addTask {
                    try await relay.run()
                    return []
                }
                var received: [Int] = []
                for await delivery in consumer.deliveries {
                    let event = try EventCoding.decode(CloudEvent<TestSequenced>.self, from: delivery.body)
                    #expect(delivery.properties.messageID == event.id)
                    #expect(delivery.properties.type == "org.syllabus.identity.test.sequenced.v1")
                    #expect(delivery.properties.contentType == "application/cloudevents+json")
                    received.append(event.data.n)
                    consumer.ack(delivery)
                    if Set(received).count == 300 { break }
                }
                group.cancelAll()
                return received
            }
            consumer.stop()
            publisher.shutdown()
            var seen = Set<Int>()
            #expect(received.filter { seen.insert($0).inserted } == Array(1...300), "published in commit order")
            // Publishing is at least once: only a lost connection (the shared test broker may drop
            // one while other suites delete queues bound to the same exchange) re-sends what was
            // not yet confirmed, and the re-send starts over from the first unconfirmed event, so
            // the order holds from there on.
            if publisher.connectionsLost == 0 {
                #expect(received == Array(1...300), "each once while the connection held")
            } else {
                var resends = 0
                for (previous, next) in zip(received, received.dropFirst()) where next != previous + 1 {
                    #expect(next <= previous, "a re-send goes back, never skips ahead")
                    resends += 1
                }
                #expect(resends <= publisher.connectionsLost, "one re-send per lost connection at most")
            }
            // Published rows are deleted: the outbox keeps only what is still to be sent.
            try await eventually("every published row to be gone") {
                try await pool.query("SELECT 1 FROM outbox").isEmpty
            }
        }
    }

    @Test func onlyOneRelayPerServiceIsActiveAndADeposedOneStops() async throws {
        try await withTemporarySchema { pool, schema in
            try await Migrator(schema: schema, migrations: Outbox.migrations(from: 1)).migrate(pool, logger: TestEnvironment.logger)
            let url = try TestEnvironment.value("ADMIN_AMQP_URL")
            let adminDB = try TestEnvironment.value("ADMIN_DATABASE_URL")
            let publisher = try AMQPPublisher(url: url, name: "test-relay", logger: TestEnvironment.logger)
            defer { publisher.shutdown() }
            let relays = (0..<2).map { _ in
                OutboxRelay(service: .identity, databaseURL: adminDB, searchPath: schema, lockName: schema, publisher: publisher, logger: TestEnvironment.logger)
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for relay in relays { group.addTask { try await relay.run() } }
                try await eventually("one relay to lead and the other to stand by") {
                    relays.filter(\.isLeader).count == 1 && relays.filter(\.isStandingBy).count == 1
                }
                let locks = try await pool.query(
                    "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = 7421::oid AND objid = hashtext(\(schema))::oid")
                #expect(try locks.first?.decode("n", as: Int.self) == 1)

                // The leader's session ends under it (its pool reconnects without the lock): the
                // other replica takes the lock and raises the epoch, and the first one, fenced
                // by the epoch at its next batch, stands by. Never two leaders.
                let holder = try #require(try await pool.query(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = 7421::oid AND objid = hashtext(\(schema))::oid"
                ).first?.decode("pid", as: Int.self))
                try await pool.execute("SELECT pg_terminate_backend(\(holder)::int)")
                try await eventually(timeout: .seconds(20), "the other replica to lead under a new epoch") {
                    let epoch = try await pool.query("SELECT epoch FROM outbox_relay WHERE name = \(schema)").first?.decode("epoch", as: Int64.self)
                    return epoch == 2 && relays.filter(\.isLeader).count == 1 && relays.filter(\.isStandingBy).count == 1
                }
                group.cancelAll()
            }
        }
    }

    @Test func theSameEventDeliveredTwiceIsAppliedOnce() async throws {
        try await withTemporarySchema { pool, schema in
            try await Migrator(schema: schema, migrations: [
                Outbox.migration(version: 1),
                Outbox.relayMigration(version: 2),
                Migration(version: 3, name: "effects", sql: "CREATE TABLE effects (aggregate text NOT NULL, n int8 NOT NULL)"),
            ]).migrate(pool, logger: TestEnvironment.logger)
            let url = try TestEnvironment.value("ADMIN_AMQP_URL")
            let admin = try AMQPAdmin(url: url)
            let queue = "test.inbox.\(schema)"
            try await admin.declareQueue(queue, durable: false)
            try await admin.declareExchange(Topology.retryExchange(of: queue), type: "direct", durable: false)
            try await admin.bind(queue: queue, exchange: Topology.retryExchange(of: queue), routingKey: queue)
            defer { Task { try? await admin.deleteQueue(queue) } }

            let handler = EventHandler(TestSequenced.self, name: "effects") { event, connection in
                try connection.execute("INSERT INTO effects (aggregate, n) VALUES (\(event.data.aggregate), \(event.data.n))")
            }
            let publisher = try AMQPPublisher(url: url, name: "test", logger: TestEnvironment.logger)
            defer { publisher.shutdown() }
            let consumer = try EventConsumerService(
                service: .progress, queue: queue, amqpURL: url, prefetch: 10, database: pool, publisher: publisher,
                handlers: [handler], logger: TestEnvironment.logger)

            let aggregate = UUID().uuidString
            let twice = CloudEvent(TestSequenced(aggregate: aggregate, n: 1), sequence: 1)
            let after = CloudEvent(TestSequenced(aggregate: aggregate, n: 2), sequence: 2)
            let messages = try [twice, twice, after].map { event in
                intoQueue(queue, body: try EventCoding.encode(event), id: event.id)
            }
            #expect(try await publisher.publish(messages).allSatisfy { $0 == .confirmed })

            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await consumer.run() }
                // One consumer handles its queue in order: once the last event's effect is there,
                // both copies of the first have been handled.
                try await eventually("the last event to be applied") {
                    try await !pool.query("SELECT 1 FROM effects WHERE n = 2").isEmpty
                }
                group.cancelAll()
            }
            let counts = try await pool.query("SELECT n, count(*) AS c FROM effects GROUP BY n ORDER BY n")
                .map { (try $0.decode("n", as: Int.self), try $0.decode("c", as: Int.self)) }
            #expect(counts.map(\.0) == [1, 2])
            #expect(counts.map(\.1) == [1, 1], "the duplicate was applied once")
            #expect(try await pool.query("SELECT count(*) AS c FROM inbox").first?.decode("c", as: Int.self) == 2)
        }
    }
}

/// An applied event's inbox rows go after the retention (older ones only): long enough that a
/// replay of the archive is still recognised, short enough that the inbox does not grow for good.
@Suite struct InboxRetentionTests {
    @Test func inboxRowsPastTheRetentionGoAndNewerOnesStay() async throws {
        try await withTemporarySchema { pool, schema in
            try await Migrator(schema: schema, migrations: Outbox.migrations(from: 1)).migrate(pool, logger: TestEnvironment.logger)
            let now = Date()
            let (old, recent) = (UUID(), UUID())
            for (id, days) in [(old, 15.0), (recent, 13.0)] {
                try await pool.execute(
                    "INSERT INTO inbox (event_id, handler, event_type, received_at) VALUES (\(id), 'h', 't', \(now.addingTimeInterval(-days * 86_400)))")
            }
            #expect(try await EventConsumerService.expireInbox(receivedBefore: now.addingTimeInterval(-14 * 86_400), on: pool) == 1)
            #expect(try await pool.query("SELECT event_id FROM inbox").map { try $0.decode("event_id", as: UUID.self) } == [recent])
        }
    }
}
