import Contracts
import Database
import Foundation
import MessageBus
import ServiceKit
import Testing
import TestSupport

extension FaultTests.BusFaultTests {
    /// The broker refuses one outbox row (its routing key reaches a queue that rejects every
    /// publish): that row is retried, then parked, and the row behind it of the same aggregate
    /// waits, while every other aggregate's rows are published once each. Released after the
    /// broker is fixed, the parked row goes, then the one behind it.
    @Test func aRefusedOutboxRowIsParkedWhileTheRowsBehindItArePublishedOnceEach() async throws {
        try await withFaultQueue("refusal") { setting in
            let (pool, schema, amqp, admin, queue) = (setting.pool, setting.schema, setting.amqp, setting.admin, setting.queue)
            // A queue that rejects every publish, bound to one routing key only (this test's own).
            let refusedKey = "identity.fault.refused_\(schema).v1"
            let refusing = "fault.refusing.\(schema)"
            try await admin.declareQueue(
                refusing, durable: false, autoDelete: false,
                arguments: ["x-max-length": .int(0), "x-overflow": .string("reject-publish"), "x-expires": .int(120_000)])
            try await admin.bind(queue: refusing, exchange: "identity.events", routingKey: refusedKey)

            let run = UUID().uuidString
            var ids: [String: String] = [:] // label → event id
            func row(_ label: String, aggregate: String, key: String, n: Int) async throws {
                let event = CloudEvent(Numbered(run: run, n: n), sequence: Int64(n + 1))
                ids[label] = event.id
                try await pool.execute(
                    """
                    INSERT INTO outbox (event_id, routing_key, aggregate_id, sequence, body, occurred_at)
                    VALUES (\(UUID(uuidString: event.id)!), \(key), \(aggregate), \(Int64(n + 1)),
                            \(String(decoding: try EventCoding.encode(event), as: UTF8.self)), \(event.time))
                    """)
            }
            let normal = Numbered.eventType.routingKey
            for n in 0..<20 { try await row("b\(n)", aggregate: "other-\(n % 4)", key: normal, n: n) }
            try await row("a1", aggregate: "held", key: refusedKey, n: 100)
            try await row("a2", aggregate: "held", key: normal, n: 101)
            for n in 20..<40 { try await row("b\(n)", aggregate: "other-\(n % 4)", key: normal, n: n) }

            let publisher = try AMQPPublisher(url: amqp, name: "fault-relay", logger: faultLogger)
            defer { publisher.shutdown() }
            let relay = OutboxRelay(
                service: .identity, databaseURL: try fault.value("ADMIN_DATABASE_URL"), searchPath: schema, lockName: schema,
                publisher: publisher, batchSize: 8, retryDelay: .milliseconds(300), maxAttempts: 3, logger: faultLogger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await relay.run() }
                try await eventually(timeout: .seconds(30), "the refused row to be parked") { try await relay.parkedCount() == 1 }
                let held = try await pool.withConnection { try ParkedOutbox.list(on: $0) }
                #expect(held.count == 1)
                #expect(held.first?.eventID.lowercased == ids["a1"])
                #expect(held.first?.attempts == 3)
                #expect(held.first?.parkedAt != nil)
                #expect(held.first?.lastError?.contains("nacked") == true)
                try await eventually(timeout: .seconds(10), "the other aggregates' rows to be published") {
                    try await relay.backlog() == 2
                }
                let published = try await admin.drain(queue: queue, limit: 1000).compactMap(\.properties.messageID)
                let others = (0..<40).compactMap { ids["b\($0)"] }
                #expect(published.sorted() == others.sorted(), "each other row once; the held aggregate's second row not at all")

                // Fixed: the broker takes the key again. Released, the parked row goes, then the one behind it.
                try await admin.deleteQueue(refusing)
                let released = try await pool.withConnection { try ParkedOutbox.release([], service: .identity, on: $0) }
                #expect(released == 1)
                try await eventually(timeout: .seconds(10), "the held aggregate to be published") { try await relay.backlog() == 0 }
                let after = try await admin.drain(queue: queue, limit: 1000).compactMap(\.properties.messageID)
                print("refused outbox row: parked after 3 attempts; \(published.count) rows of other aggregates published meanwhile, \(after.count) of the held aggregate after release")
                #expect(after == [ids["a2"]!], "the row behind the parked one, once, after it")
                #expect(try await relay.parkedCount() == 0)
                group.cancelAll()
            }
        }
    }

    /// A consumer batch in which one event fails: the others are applied once, in the same
    /// transactions, and the failed one goes to its retry tier and is applied when it comes back.
    @Test func aConsumerBatchWithOneFailingEventAppliesTheOthersOnceAndRetriesThatOne() async throws {
        try await withFaultQueue("batch") { setting in
            let (pool, amqp, admin, queue) = (setting.pool, setting.amqp, setting.admin, setting.queue)
            let run = UUID().uuidString
            let publisher = try AMQPPublisher(url: amqp, name: "fault", logger: faultLogger)
            defer { publisher.shutdown() }
            // All of one aggregate: one lane, whose batches fill from what is waiting.
            let total = 300
            let messages = try (0..<total).map { n in
                let event = CloudEvent(Numbered(run: run, n: n), sequence: Int64(n + 1))
                return intoQueue(queue, body: try EventCoding.encode(event), id: event.id)
            }
            #expect(try await publisher.publish(messages).allSatisfy { $0 == .confirmed })
            // Event 77 is refused twice: in its batch's first pass (which is then undone) and in the
            // pass with a savepoint per event (where only it is undone); it succeeds on its retry.
            let failing = FailTimes(2)
            let consumer = try EventConsumerService(
                service: .identity, queue: queue, amqpURL: amqp, database: pool, publisher: publisher,
                retry: RetryPolicy(delays: [200, 400], maxAttempts: 5), batchSize: 64,
                handlers: [effectHandler { $0.n == 77 && failing.again() }], logger: faultLogger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await consumer.run() }
                try await eventually(timeout: .seconds(30), "every event applied") { try await effectCounts(pool, run: run).distinct == total }
                try await eventually(timeout: .seconds(10), "the queue and its retry tiers to be empty") {
                    var waiting = 0
                    for name in [queue, "\(queue).retry.200", "\(queue).retry.400", "\(queue).dlq"] { waiting += try await admin.messageCount(queue: name) }
                    return waiting == 0
                }
                group.cancelAll()
            }
            let counts = try await effectCounts(pool, run: run)
            let statistics = consumer.statistics
            let inbox = try await pool.query("SELECT count(*) AS c FROM inbox").first?.decode("c", as: Int.self)
            print("batch with one failure: \(counts.distinct) events applied, \(counts.total) effects, \(statistics.batches) transactions (largest \(statistics.largestBatch)), \(statistics.failed) retried")
            #expect(statistics.largestBatch > 1, "events were applied in batches")
            #expect(statistics.batches < total, "fewer transactions than events")
            #expect(statistics.failed == 1, "only the failing event went to retry")
            #expect(failing.calls == 3, "the failing event's handler ran three times: refused twice, then applied on its retry")
            #expect(counts.total == total, "every event applied once, the failed one on its retry")
            #expect(inbox == total, "no inbox row kept for the failed attempt beyond its retry")
        }
    }
}

/// True the first `times` calls.
final class FailTimes: @unchecked Sendable {
    private let lock = NSLock()
    private let times: Int
    private var count = 0
    init(_ times: Int) { self.times = times }
    var calls: Int { lock.withLock { count } }
    func again() -> Bool {
        lock.withLock {
            count += 1
            return count <= times
        }
    }
}

extension FaultTests.BusFaultTests {
    /// A broker under a disk alarm blocks publishing: the relay's publisher waits (no timeout,
    /// no reconnect loop), says why (readiness reports it), the events wait in the outbox, and
    /// once the alarm clears every one is published, once.
    @Test func aBrokerAlarmPausesPublishingAndNothingIsLostOrDoubled() async throws {
        try await withFaultQueue("alarm") { setting in
            let (pool, schema, amqp, admin, queue) = (setting.pool, setting.schema, setting.amqp, setting.admin, setting.queue)
            let run = UUID().uuidString
            let publisher = try AMQPPublisher(url: amqp, name: "fault-relay", confirmTimeout: 2, logger: faultLogger)
            defer { publisher.shutdown() }
            let relay = OutboxRelay(
                service: .identity, databaseURL: try fault.value("ADMIN_DATABASE_URL"), searchPath: schema, lockName: schema,
                publisher: publisher, batchSize: 20, logger: faultLogger)
            func produce(_ range: Range<Int>) async throws {
                for n in range {
                    try await pool.transaction { connection in
                        try Outbox.enqueue(CloudEvent(Numbered(run: run, n: n), sequence: Int64(n + 1)), on: connection)
                    }
                }
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await relay.run() }
                try await produce(0..<50)
                try await eventually(timeout: .seconds(10), "the first events published") { try await relay.backlog() == 0 }
                try await blocking { try fault.stack("raise-disk-alarm") }
                do {
                    try await produce(50..<100)
                    try await eventually(timeout: .seconds(20), "the publisher to be blocked") { publisher.blockedReason != nil }
                    // Longer than the publisher's confirm timeout: it must wait, not give up.
                    try await Task.sleep(for: .seconds(3))
                    #expect(publisher.blockedReason != nil)
                    #expect(publisher.isConnected, "blocked, not dropped")
                    #expect(try await relay.backlog() > 0, "the events wait in the outbox")
                } catch {
                    try? await blocking { try fault.stack("clear-disk-alarm") }
                    throw error
                }
                try await blocking { try fault.stack("clear-disk-alarm") }
                try await eventually(timeout: .seconds(20), "every event published") { try await relay.backlog() == 0 }
                #expect(publisher.blockedReason == nil)
                try await eventually(timeout: .seconds(10), "every event in the queue") { try await admin.messageCount(queue: queue) == 100 }
                let ids = try await admin.drain(queue: queue, limit: 1000).compactMap(\.properties.messageID)
                print("broker alarm: publishing paused, then \(ids.count) messages, \(Set(ids).count) distinct, for 100 events")
                #expect(ids.count == 100 && Set(ids).count == 100, "each event published once")
                group.cancelAll()
            }
        }
    }
}
