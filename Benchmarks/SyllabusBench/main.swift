import Contracts
import Database
import Foundation
import Logging
import MessageBus
import Metrics
import Prometheus
import ServiceKit
import Tracing

// `make bench`: the bus's figures, each as a ratio against a baseline measured in the same run on
// the same servers, so the numbers mean something on any machine.
//
// 1. outbox relay throughput       vs  confirmed publishing through librabbitmq alone (window 1,000)
// 2. consumer throughput            vs  consume-and-ack alone
//    (inbox row + handler transaction per event)
//    (each of 1 and 2 again with tracing on when OTEL_EXPORTER_OTLP_ENDPOINT is set: every event's
//    publish and handling a span, exported over OTLP)
// 3. end-to-end latency p50/p99 at fixed arrival rates (open loop: each event is produced at its
//    scheduled time whether or not the ones before it are done), from the producer's commit to
//    the consumer's commit

struct Bench {
    let databaseURL: String
    let amqpURL: String
    let logger: Logger
    let events: Int
    let rates: [Int]
    let seconds: Int

    struct Event: DomainEvent {
        static let eventType = EventType(producer: .identity, name: "bench.measured", majorVersion: 1)
        var run: String
        var n: Int
        /// A hundred aggregates, as many users would make.
        var subject: String { "\(run).\(n % 100)" }
    }

    func schema(_ body: (DatabasePool, String) async throws -> Void) async throws {
        let admin = DatabasePool(url: databaseURL, size: 1, name: "bench-admin", logger: logger)
        defer { admin.shutdown() }
        let schema = "bench_\(UUID().uuidString.prefix(8).lowercased())"
        try await admin.execute("CREATE SCHEMA \(identifier: schema)")
        let pool = DatabasePool(url: databaseURL, size: 4, searchPath: schema, name: "bench", logger: logger)
        try await Migrator(schema: schema, migrations: [
            Outbox.migration(version: 1),
            Outbox.relayMigration(version: 2),
            Migration(version: 3, name: "effects", sql: "CREATE TABLE effects (n int8 NOT NULL, produced_at timestamptz NOT NULL, applied_at timestamptz NOT NULL DEFAULT clock_timestamp())"),
        ]).migrate(pool, logger: logger)
        do {
            try await body(pool, schema)
        } catch {
            pool.shutdown()
            throw error
        }
        pool.shutdown()
        try await admin.execute("DROP SCHEMA \(identifier: schema) CASCADE")
    }

    /// A quorum queue bound to the bench's events on `identity.events`, as a consumer's queue is.
    func queue(_ admin: AMQPAdmin, _ name: String) async throws {
        try await admin.declareQueue(name, durable: true, arguments: ["x-queue-type": .string("quorum")])
        try await admin.bind(queue: name, exchange: "identity.events", routingKey: Event.eventType.routingKey)
    }

    /// The messages the relay would publish for these events, to the letter (exchange, routing
    /// key, properties, headers, `mandatory`): a baseline that publishes anything lighter flatters
    /// the broker and wrongs the relay.
    func messages(count: Int, run: String, traced: Bool = false) throws -> [OutgoingMessage] {
        try (0..<count).map { n in
            let traceparent = traced ? Self.traceparent() : nil
            let event = CloudEvent(Event(run: run, n: n), sequence: Int64(n + 1), traceparent: traceparent)
            return OutboxRelay.message(
                service: .identity, routingKey: Event.eventType.routingKey, eventID: UUID(uuidString: event.id)!, aggregateID: event.subject,
                traceparent: traceparent, occurredAt: event.time, body: try EventCoding.encode(event))
        }
    }

    /// A sampled W3C trace context, as a traced producer's event carries.
    static func traceparent() -> String {
        func hex(_ count: Int) -> String { (0..<count).map { _ in String(format: "%02x", UInt8.random(in: 1...255)) }.joined() }
        return "00-\(hex(16))-\(hex(8))-01"
    }

    /// How many events the handler has applied, read on a connection of the bench's own, not
    /// one of the pool under test.
    func applied(_ probe: DatabasePool) async throws -> Int {
        try await probe.query("SELECT count(*) AS c FROM effects").first?.decode("c", as: Int.self) ?? 0
    }

    /// The schema's pool and a one-connection pool for the bench's own questions.
    func probe(_ schema: String) -> DatabasePool {
        DatabasePool(url: databaseURL, size: 1, searchPath: schema, name: "bench-probe", logger: logger)
    }

    // MARK: 1. relay vs raw confirmed publishing

    /// - Parameter traced: the rows are written within a span (so they carry its context) and the
    ///   relay publishes each within a span of its own.
    func relayThroughput(traced: Bool = false) async throws -> (baseline: Double, measured: Double) {
        let admin = try AMQPAdmin(url: amqpURL)
        let sink = "bench.sink.\(UUID().uuidString.prefix(8).lowercased())"
        try await queue(admin, sink)
        let publisher = try AMQPPublisher(url: amqpURL, name: "bench", confirmWindow: 1000, logger: logger)
        defer { publisher.shutdown() }

        // Baseline: the same number of confirmed publishes, no database.
        let raw = try messages(count: events, run: "raw")
        _ = try await publisher.publish(Array(raw.prefix(500))) // warm up the connection
        let clock = ContinuousClock()
        let baseline = try await clock.measure {
            var offset = 0
            while offset < raw.count {
                let outcomes = try await publisher.publish(Array(raw[offset..<min(offset + 1000, raw.count)]))
                precondition(outcomes.allSatisfy { $0 == .confirmed })
                offset += 1000
            }
        }
        try await admin.purgeQueue(sink)

        var measured: Duration = .zero
        try await schema { pool, schema in
            let run = UUID().uuidString
            var n = 0
            while n < events {
                let end = min(n + 1000, events)
                let range = n..<end
                let write = {
                    try await pool.transaction { connection in
                        for i in range { try Outbox.enqueue(CloudEvent(Event(run: run, n: i), sequence: Int64(i + 1)), on: connection) }
                    }
                }
                if traced { try await withSpan("bench produce") { _ in try await write() } } else { try await write() }
                n = end
            }
            let relay = OutboxRelay(service: .identity, databaseURL: databaseURL, searchPath: schema, lockName: schema,
                                    publisher: publisher, batchSize: 1000, logger: logger)
            let probe = probe(schema)
            defer { probe.shutdown() }
            let start = clock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await relay.run() }
                // Whether any row is left: one index probe, not a count of the backlog (polling a
                // count every few milliseconds would take a core from the relay under test).
                while try await probe.query("SELECT EXISTS (SELECT 1 FROM outbox WHERE published_at IS NULL) AS left").first?.decode("left", as: Bool.self) ?? true {
                    try await Task.sleep(for: .milliseconds(5))
                }
                measured = start.duration(to: clock.now)
                group.cancelAll()
            }
        }
        try await admin.deleteQueue(sink)
        return (Double(events) / baseline.seconds, Double(events) / measured.seconds)
    }

    // MARK: 2. consumer vs raw consume-and-ack

    /// - Parameter traced: every message carries a trace context and is handled within a span.
    func consumerThroughput(traced: Bool = false) async throws -> (baseline: Double, measured: Double) {
        let admin = try AMQPAdmin(url: amqpURL)
        let publisher = try AMQPPublisher(url: amqpURL, name: "bench", confirmWindow: 1000, logger: logger)
        defer { publisher.shutdown() }
        let clock = ContinuousClock()

        // The baseline reads a queue of its own, deleted before the consumer under test starts:
        // publishing is at least once, so a copy the publisher sent again after a lost confirm
        // would otherwise be left behind and applied by the consumer under test as one more event.
        let raw = "bench.consume.raw.\(UUID().uuidString.prefix(8).lowercased())"
        try await queue(admin, raw)
        _ = try await publisher.publish(try messages(count: events, run: "raw"))
        // The consumer under test takes lanes × batch size (4 × 64) in flight: the baseline too.
        let consumer = try AMQPConsumer(url: amqpURL, queue: raw, prefetch: 256, name: "bench", logger: logger)
        var received = 0
        let start = clock.now
        for await message in consumer.deliveries {
            consumer.ack(message)
            received += 1
            if received == events { break }
        }
        let baseline = start.duration(to: clock.now)
        consumer.stop()
        try await admin.deleteQueue(raw)

        let name = "bench.consume.\(UUID().uuidString.prefix(8).lowercased())"
        try await queue(admin, name)
        for suffix in [".dlq", ".retry.1000"] { try await admin.declareQueue(name + suffix, arguments: ["x-queue-type": .string("quorum")]) }
        var measured: Duration = .zero
        try await schema { pool, schema in
            let run = UUID().uuidString
            _ = try await publisher.publish(try messages(count: events, run: run, traced: traced))
            let probe = probe(schema)
            defer { probe.shutdown() }
            let handler = EventHandler(Event.self, name: "bench") { event, connection in
                try connection.execute("INSERT INTO effects (n, produced_at) VALUES (\(event.data.n), \(event.time))")
            }
            let service = try EventConsumerService(
                service: .identity, queue: name, amqpURL: amqpURL, prefetch: 256, database: pool, publisher: publisher,
                retry: RetryPolicy(delays: [1000], maxAttempts: 3), handlers: [handler], logger: logger)
            let start = clock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await service.run() }
                // The consumer's own count of committed events (no polling query competing with it),
                // checked against the table once it is done.
                while service.statistics.handled < events { try await Task.sleep(for: .milliseconds(5)) }
                measured = start.duration(to: clock.now)
                group.cancelAll()
            }
            let count = try await applied(probe)
            guard count == events else { fatalError("the consumer reported \(events) events handled, the table has \(count)") }
        }
        for queue in [name, name + ".dlq", name + ".retry.1000"] { try await admin.deleteQueue(queue) }
        return (Double(events) / baseline.seconds, Double(events) / measured.seconds)
    }

    // MARK: 3. end-to-end latency at a fixed arrival rate

    struct Latency {
        var p50: Double
        var p99: Double
        var max: Double
        var count: Int
        /// Events produced later than their scheduled time by more than 10 ms: the producer, not
        /// the bus, could not keep the rate.
        var late: Int
    }

    func latency(rate: Int) async throws -> Latency {
        let admin = try AMQPAdmin(url: amqpURL)
        let name = "bench.latency.\(UUID().uuidString.prefix(8).lowercased())"
        try await queue(admin, name)
        for suffix in [".dlq", ".retry.1000"] { try await admin.declareQueue(name + suffix, arguments: ["x-queue-type": .string("quorum")]) }
        let publisher = try AMQPPublisher(url: amqpURL, name: "bench", confirmWindow: 1000, logger: logger)
        defer { publisher.shutdown() }
        var samples: [Double] = []
        let late = LateCount()
        try await schema { pool, schema in
            let run = UUID().uuidString
            let relay = OutboxRelay(service: .identity, databaseURL: databaseURL, searchPath: schema, lockName: schema,
                                    publisher: publisher, logger: logger)
            let handler = EventHandler(Event.self, name: "bench") { event, connection in
                try connection.execute("INSERT INTO effects (n, produced_at) VALUES (\(event.data.n), \(event.time))")
            }
            // The producers are a service's request handlers: a pool of their own.
            let producers = DatabasePool(url: databaseURL, size: 8, searchPath: schema, name: "bench-produce", logger: logger)
            defer { producers.shutdown() }
            let service = try EventConsumerService(
                service: .identity, queue: name, amqpURL: amqpURL, database: pool, publisher: publisher,
                retry: RetryPolicy(delays: [1000], maxAttempts: 3), handlers: [handler], logger: logger)
            let total = rate * seconds
            let probe = probe(schema)
            defer { probe.shutdown() }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await relay.run() }
                group.addTask { try await service.run() }
                try await Task.sleep(for: .milliseconds(300)) // the relay leads and the consumer consumes
                let clock = ContinuousClock()
                let start = clock.now
                try await withThrowingDiscardingTaskGroup { producing in
                    for n in 0..<total {
                        let due = start.advanced(by: .seconds(Double(n) / Double(rate)))
                        try await clock.sleep(until: due)
                        producing.addTask {
                            if clock.now - due > .milliseconds(10) { late.add() }
                            // The event's time is taken inside the producing transaction, just before commit.
                            try await producers.transaction { connection in
                                try Outbox.enqueue(CloudEvent(Event(run: run, n: n), sequence: Int64(n + 1), time: Date()), on: connection)
                            }
                        }
                    }
                }
                while service.statistics.handled < total { try await Task.sleep(for: .milliseconds(10)) }
                group.cancelAll()
            }
            samples = try await probe.query("SELECT extract(epoch FROM applied_at - produced_at) * 1000 AS ms FROM effects")
                .map { try $0.decode("ms", as: Double.self) }.sorted()
        }
        for queue in [name, name + ".dlq", name + ".retry.1000"] { try await admin.deleteQueue(queue) }
        func percentile(_ p: Double) -> Double { samples[min(samples.count - 1, Int(Double(samples.count) * p))] }
        return Latency(p50: percentile(0.50), p99: percentile(0.99), max: samples.last ?? 0, count: samples.count, late: late.value)
    }
}

final class LateCount: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

func environment(_ key: String) -> String {
    guard let value = ProcessInfo.processInfo.environment[key], !value.isEmpty else {
        FileHandle.standardError.write(Data("syllabus-bench: set \(key) (make bench does)\n".utf8))
        exit(2)
    }
    return value
}

var logger = Logger(label: "bench")
logger.logLevel = .error
let bench = Bench(
    databaseURL: environment("ADMIN_DATABASE_URL"), amqpURL: environment("ADMIN_AMQP_URL"), logger: logger,
    events: Int(ProcessInfo.processInfo.environment["BENCH_EVENTS"] ?? "") ?? 20_000,
    rates: (ProcessInfo.processInfo.environment["BENCH_RATES"] ?? "200,1000").split(separator: ",").compactMap { Int($0) },
    seconds: Int(ProcessInfo.processInfo.environment["BENCH_SECONDS"] ?? "") ?? 10)

// BENCH_ONLY=relay,consumer,latency runs only those parts (all by default), to profile one.
let only = Set((ProcessInfo.processInfo.environment["BENCH_ONLY"] ?? "relay,consumer,latency").split(separator: ",").map(String.init))
// The relay and the consumer first with metrics and tracing off, then with metrics on (as the
// services run), then, with an OTLP endpoint, with tracing on as well (every event's publish and
// handling a span, exported there): what they cost, in the same run. Objects made after the
// metrics system's bootstrap record into Prometheus's registry; those made before stay no-ops.
let tracing = Telemetry.bootstrapTracing(service: "bench", environment: ProcessInfo.processInfo.environment, logger: logger)
if let tracing { Task { try await tracing.run() } }
TraceContext.setRecording(false)
let relay = only.contains("relay") ? try await bench.relayThroughput() : (baseline: 0, measured: 0)
let consumer = only.contains("consumer") ? try await bench.consumerThroughput() : (baseline: 0, measured: 0)
var costRows: [String] = []
@MainActor func cost(_ label: String, _ part: String, off: Double, _ measure: () async throws -> (baseline: Double, measured: Double)) async throws {
    guard only.contains(part) else { return }
    let on = try await measure()
    costRows.append("| \(label), events/s | \(f(off)) with both off (above) | \(f(on.measured)) (its raw baseline: \(f(on.baseline))) | \(r(on.measured / off)) |")
}
MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: PrometheusCollectorRegistry()))
try await cost("outbox relay throughput, metrics on", "relay", off: relay.measured) { try await bench.relayThroughput() }
try await cost("consumer throughput, metrics on", "consumer", off: consumer.measured) { try await bench.consumerThroughput() }
if tracing != nil {
    TraceContext.setRecording(true)
    try await cost("outbox relay throughput, metrics and tracing on", "relay", off: relay.measured) { try await bench.relayThroughput(traced: true) }
    try await cost("consumer throughput, metrics and tracing on", "consumer", off: consumer.measured) { try await bench.consumerThroughput(traced: true) }
    TraceContext.setRecording(false)
}
var latencies: [(rate: Int, figures: Bench.Latency)] = []
if only.contains("latency") {
    for rate in bench.rates { latencies.append((rate, try await bench.latency(rate: rate))) }
}

func f(_ value: Double) -> String { String(format: "%.0f", value) }
func r(_ value: Double) -> String { String(format: "%.2f", value) }
let durability = ProcessInfo.processInfo.environment["SYLLABUS_BENCH_FSYNC"] == "off" ? "fsync off" : "fsync and synchronous_commit on"
let latencyRows = latencies.map { rate, l in
    "| end-to-end latency, producer commit → consumer commit, \(rate) events/s offered (open loop) for \(bench.seconds) s | — | "
        + "p50 \(String(format: "%.1f", l.p50)) ms, p99 \(String(format: "%.1f", l.p99)) ms, max \(String(format: "%.0f", l.max)) ms "
        + "(\(l.count) events, \(l.late) produced late) | p99/p50 \(r(l.p99 / max(l.p50, 0.001))) |"
}.joined(separator: "\n")
let table = """
    Postgres: \(durability). Baselines publish the relay's own messages (exchange, properties, headers, mandatory).

    | figure | baseline (same run) | measured | ratio |
    | --- | --- | --- | --- |
    | outbox relay throughput, events/s (\(bench.events) events) | \(f(relay.baseline)) raw confirmed publishing, window 1000 | \(f(relay.measured)) | \(r(relay.measured / relay.baseline)) |
    | consumer throughput, events/s (\(bench.events) events) | \(f(consumer.baseline)) raw consume-and-ack | \(f(consumer.measured)) inbox + handler transaction | \(r(consumer.measured / consumer.baseline)) |
    \(latencyRows)
    \(costRows.joined(separator: "\n"))
    """
print(table)
if let out = ProcessInfo.processInfo.environment["BENCH_OUTPUT"] {
    try Data((table + "\n").utf8).write(to: URL(fileURLWithPath: out))
    print("written to \(out)")
}
