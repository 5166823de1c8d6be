import Contracts
import Database
import Foundation
import MessageBus
import ServiceKit
import Testing
import TestSupport

/// Faults on the fault stack's own servers, one at a time: they stop and restart the broker and
/// Postgres under connected clients, so no two may overlap. Each prints and asserts its count.
@Suite(.serialized) struct FaultTests {}

extension FaultTests {
    struct BusFaultTests {}
}

extension FaultTests.BusFaultTests {
    @Test func brokerDownMidBurstLosesNothingAndAppliesEachOnce() async throws {
        try await withFaultQueue("burst") { setting in
            let (pool, schema, amqp, admin, queue) = (setting.pool, setting.schema, setting.amqp, setting.admin, setting.queue)
            let run = UUID().uuidString
            let total = 1000
            let databaseURL = try fault.value("ADMIN_DATABASE_URL")
            let publisher = try AMQPPublisher(url: amqp, name: "fault-relay", confirmWindow: 100, logger: faultLogger)
            let relay = OutboxRelay(
                service: .identity, databaseURL: databaseURL, searchPath: schema, lockName: schema, publisher: publisher,
                batchSize: 50, logger: faultLogger)
            let consumer = try EventConsumerService(
                service: .identity, queue: queue, amqpURL: amqp, prefetch: 20, database: pool, publisher: publisher,
                retry: RetryPolicy(delays: [200, 400], maxAttempts: 5), handlers: [effectHandler()], logger: faultLogger)
            let outage = OutageFlag()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await relay.run() }
                group.addTask { try await consumer.run() }
                group.addTask {
                    // Users keep acting while the broker is away: 1,000 commits, one every 25 ms,
                    // the second half only once the outage shows (however slow the machine is,
                    // the broker goes down in the middle of the burst).
                    let clock = ContinuousClock()
                    var next = clock.now
                    for n in 0..<total {
                        if n == total / 2 {
                            try await eventually(timeout: .seconds(90), "the outage to show before the second half") { outage.isSet }
                            next = clock.now
                        }
                        try await clock.sleep(until: next)
                        next = next.advanced(by: .milliseconds(25))
                        try await pool.transaction { connection in
                            try Outbox.enqueue(CloudEvent(Numbered(run: run, n: n), sequence: Int64(n + 1)), on: connection)
                        }
                    }
                }
                try await eventually(timeout: .seconds(60), "part of the burst to be applied") {
                    try await effectCounts(pool, run: run).distinct >= 100
                }
                try await blocking { try fault.stack("stop-broker") }
                try await eventually(timeout: .seconds(30), "the outage to show") { !publisher.isConnected && !consumer.isConsuming }
                let during = try await effectCounts(pool, run: run).distinct
                outage.set()
                try await blocking { try fault.stack("start-broker") }
                try await eventually(timeout: .seconds(120), "the whole burst to be applied") {
                    try await effectCounts(pool, run: run).distinct == total
                }
                // Let in-flight redeliveries land before counting duplicates.
                try await eventually(timeout: .seconds(30), "the outbox to be drained") { try await relay.backlog() == 0 }
                try await eventually(timeout: .seconds(30), "the queue to be empty") { try await admin.messageCount(queue: queue) == 0 }
                let counts = try await effectCounts(pool, run: run)
                print("broker down mid-burst: \(counts.distinct) of \(total) events applied, \(counts.total) effects (\(during) applied when it went down)")
                #expect(during < total, "the broker went down in the middle of the burst")
                #expect(counts.distinct == total)
                #expect(counts.total == total, "every event applied exactly once in effect")
                group.cancelAll()
            }
            publisher.shutdown()
        }
    }

    @Test func poisonMessageGoesToTheDLQWhileTheHundredBehindItAreHandled() async throws {
        try await withFaultQueue("poison") { setting in
            let (pool, amqp, admin, queue) = (setting.pool, setting.amqp, setting.admin, setting.queue)
            let run = UUID().uuidString
            let publisher = try AMQPPublisher(url: amqp, name: "fault", logger: faultLogger)
            defer { publisher.shutdown() }
            let poison = CloudEvent(Numbered(run: run, n: -1), sequence: 1)
            var messages = [poison].map { event in
                intoQueue(queue, body: try! EventCoding.encode(event), id: event.id)
            }
            messages.append(intoQueue(queue, body: Array("not json".utf8), id: "garbage"))
            for n in 0..<100 {
                let event = CloudEvent(Numbered(run: run, n: n), sequence: Int64(n + 2))
                messages.append(intoQueue(queue, body: try EventCoding.encode(event), id: event.id))
            }
            #expect(try await publisher.publish(messages).allSatisfy { $0 == .confirmed })

            let consumer = try EventConsumerService(
                service: .identity, queue: queue, amqpURL: amqp, prefetch: 10, database: pool, publisher: publisher,
                retry: RetryPolicy(delays: [200, 400], maxAttempts: 3), handlers: [effectHandler { $0.n < 0 }], logger: faultLogger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await consumer.run() }
                try await eventually(timeout: .seconds(30), "the hundred good events") { try await effectCounts(pool, run: run).distinct == 100 }
                try await eventually(timeout: .seconds(30), "both bad messages in the DLQ") { try await admin.messageCount(queue: "\(queue).dlq") == 2 }
                group.cancelAll()
            }
            let dead = try await admin.peek(queue: "\(queue).dlq", limit: 10)
            let garbage = try #require(dead.first { $0.properties.messageID == "garbage" })
            #expect(garbage.properties.headers[EventConsumerService.Header.attempts] == .int(1), "undecodable: dead-lettered at once")
            let poisoned = try #require(dead.first { $0.properties.messageID == poison.id })
            let headers = poisoned.properties.headers
            #expect(headers[EventConsumerService.Header.attempts] == .int(3))
            #expect(headers[EventConsumerService.Header.handler] == .string("effects"))
            #expect(headers[EventConsumerService.Header.error]?.stringValue?.contains("refused on purpose") == true)
            let first = try #require(headers[EventConsumerService.Header.firstFailedAt]?.stringValue.flatMap(RFC3339.parse))
            let last = try #require(headers[EventConsumerService.Header.lastFailedAt]?.stringValue.flatMap(RFC3339.parse))
            #expect(last.timeIntervalSince(first) >= 0.5, "it waited in the retry tiers (200 ms, then 400 ms)")
            let counts = try await effectCounts(pool, run: run)
            print("poison message: dead-lettered after \(headers[EventConsumerService.Header.attempts]!) attempts; \(counts.distinct) of 100 behind it applied")
            #expect(counts.total == 100)
        }
    }

    @Test func aMessageThatCrashesItsConsumerEveryTimeEndsInTheDLQ() async throws {
        let amqp = try fault.value("ADMIN_AMQP_URL")
        let admin = try AMQPAdmin(url: amqp)
        let queue = "fault.crash.\(UUID().uuidString.prefix(8).lowercased())"
        try await declareConsumerQueue(admin, name: queue, deliveryLimit: 3)
        let publisher = try AMQPPublisher(url: amqp, name: "fault", logger: faultLogger)
        defer { publisher.shutdown() }
        #expect(try await publisher.publish(intoQueue(queue, body: Array("boom".utf8), id: "crasher")) == .confirmed)
        // A consumer that dies holding the message: the broker counts each delivery.
        var deliveries = 0
        while try await admin.messageCount(queue: "\(queue).dlq") == 0 {
            let consumer = try AMQPConsumer(url: amqp, queue: queue, prefetch: 1, name: "crasher", logger: faultLogger)
            for await _ in consumer.deliveries {
                deliveries += 1
                break
            }
            consumer.stop()
            try await eventually(timeout: .seconds(10), "the crashed delivery to return") {
                try await admin.messageCount(queue: queue) + admin.messageCount(queue: "\(queue).dlq") == 1
            }
            #expect(deliveries <= 5, "the delivery limit stops the loop")
            if deliveries > 5 { break }
        }
        let dead = try await admin.peek(queue: "\(queue).dlq", limit: 1)
        print("crashing consumer: dead-lettered by the broker after \(deliveries) deliveries")
        #expect(dead.first?.properties.messageID == "crasher")
        #expect((3...5).contains(deliveries), "the delivery limit (3) ends the loop")
        await removeConsumerQueue(admin, name: queue)
    }

    @Test func postgresRestartUnderLoadLosesNoOutboxRow() async throws {
        try await withFaultQueue("pg") { setting in
            let (pool, schema, amqp, admin, queue) = (setting.pool, setting.schema, setting.amqp, setting.admin, setting.queue)
            let run = UUID().uuidString
            let databaseURL = try fault.value("ADMIN_DATABASE_URL")
            let publisher = try AMQPPublisher(url: amqp, name: "fault-relay", logger: faultLogger)
            let relay = OutboxRelay(
                service: .identity, databaseURL: databaseURL, searchPath: schema, lockName: schema, publisher: publisher,
                batchSize: 50, logger: faultLogger)
            let consumer = try EventConsumerService(
                service: .identity, queue: queue, amqpURL: amqp, prefetch: 20, database: pool, publisher: publisher,
                retry: RetryPolicy(delays: [200, 400], maxAttempts: 20), handlers: [effectHandler()], logger: faultLogger)
            let writes = WriteCounter()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await relay.run() }
                group.addTask { try await consumer.run() }
                group.addTask {
                    // Load: events committed one transaction at a time until told to stop.
                    var n = 0
                    while !writes.stopped {
                        let event = CloudEvent(Numbered(run: run, n: n), sequence: Int64(n + 1))
                        let number = n
                        do {
                            try await pool.transaction { connection in
                                try Outbox.enqueue(event, on: connection)
                                try connection.execute("INSERT INTO produced (run, n) VALUES (\(run), \(number))")
                            }
                            writes.committed()
                        } catch {
                            writes.failed()
                            try? await Task.sleep(for: .milliseconds(50))
                        }
                        n += 1
                    }
                }
                try await eventually(timeout: .seconds(30), "load to build up") { writes.count >= 200 }
                try await blocking { try fault.stack("restart-postgres") }
                let afterRestart = writes.count
                try await eventually(timeout: .seconds(30), "writes to resume after the restart") { writes.count >= afterRestart + 200 }
                writes.stop()
                // What committed is the truth (the producers' ledger, written with each outbox row):
                // every committed event must be applied, once.
                try await eventually(timeout: .seconds(60), "the outbox to be drained") { try await relay.backlog() == 0 }
                let rows = try #require(try await pool.query("SELECT count(*) AS c FROM produced WHERE run = \(run)").first?.decode("c", as: Int.self))
                try await eventually(timeout: .seconds(60), "every outbox row to be applied") { try await effectCounts(pool, run: run).distinct == rows }
                try await eventually(timeout: .seconds(30), "the queue to be empty") { try await admin.messageCount(queue: queue) == 0 }
                let counts = try await effectCounts(pool, run: run)
                print("postgres restarted under load: \(rows) events committed, \(counts.distinct) applied, \(counts.total) effects, \(writes.failures) writes refused during the restart")
                #expect(rows >= 400)
                #expect(counts.distinct == rows)
                #expect(counts.total == rows)
                group.cancelAll()
            }
            publisher.shutdown()
        }
    }

    @Test func twoReplicasOfAConsumerApplyEachEventOnce() async throws {
        try await withFaultQueue("replicas", poolSize: 6) { setting in
            let (pool, amqp, admin, queue) = (setting.pool, setting.amqp, setting.admin, setting.queue)
            let run = UUID().uuidString
            let publisher = try AMQPPublisher(url: amqp, name: "fault", logger: faultLogger)
            defer { publisher.shutdown() }
            // 1,000 events, every tenth published twice (as a relay does after a lost confirm).
            var messages: [OutgoingMessage] = []
            for n in 0..<1000 {
                let event = CloudEvent(Numbered(run: run, n: n), sequence: Int64(n + 1))
                let message = intoQueue(queue, body: try EventCoding.encode(event), id: event.id)
                messages.append(message)
                if n % 10 == 0 { messages.append(message) }
            }
            #expect(try await publisher.publish(messages).allSatisfy { $0 == .confirmed })
            let replicas = try (0..<2).map { _ in
                try EventConsumerService(
                    service: .identity, queue: queue, amqpURL: amqp, prefetch: 10, database: pool, publisher: publisher,
                    retry: RetryPolicy(delays: [200, 400], maxAttempts: 5), handlers: [effectHandler()], logger: faultLogger)
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for replica in replicas { group.addTask { try await replica.run() } }
                try await eventually(timeout: .seconds(60), "all events applied") { try await effectCounts(pool, run: run).distinct == 1000 }
                try await eventually(timeout: .seconds(30), "the queue to be empty") { try await admin.messageCount(queue: queue) == 0 }
                group.cancelAll()
            }
            let counts = try await effectCounts(pool, run: run)
            let inbox = try await pool.query("SELECT count(*) AS c FROM inbox").first?.decode("c", as: Int.self)
            print("two replicas: \(messages.count) deliveries, \(counts.distinct) events applied, \(counts.total) effects")
            #expect(counts.total == 1000, "each event applied once across both replicas")
            #expect(inbox == 1000)
        }
    }
}

final class WriteCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var _count = 0
    private var _failures = 0
    private var _stopped = false

    var count: Int { lock.withLock { _count } }
    var failures: Int { lock.withLock { _failures } }
    var stopped: Bool { lock.withLock { _stopped } }
    func committed() { lock.withLock { _count += 1 } }
    func failed() { lock.withLock { _failures += 1 } }
    func stop() { lock.withLock { _stopped = true } }
}

/// Set once, read by another task.
final class OutageFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false

    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
