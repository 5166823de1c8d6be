import Contracts
import Database
import Foundation
import ServiceKit
import TestSupport
import Testing

/// One event as its producer published it, named for the report of a failing order.
public struct Delivery: Sendable, CustomStringConvertible {
    public let name: String
    public let time: Date
    public let envelope: [UInt8]

    public init<E: DomainEvent>(_ name: String, _ event: CloudEvent<E>) throws {
        self.name = name
        self.time = event.time
        self.envelope = try EventCoding.encode(event)
    }

    public var description: String { name }
}

/// Feeds a service's handlers real event sequences in shuffled order, some events twice, and
/// compares the state they leave with the state the same events leave in order.
///
/// Two replicas consume one queue, a failed event comes back through a retry tier after the
/// events behind it, an operator redrives a dead letter days later: a service sees its producers'
/// events out of order and more than once. Each handler must therefore commute, or guard what it
/// sets by the sequence of the event that set it last; the inbox absorbs the duplicates.
///
/// Each run feeds the events through the inbox, as the consumer does (`EventConsumerService.deliver`),
/// on one transaction that is rolled back at the end, so every run starts from the same rows. A
/// delivery whose handler throws is retried later in the run, after a random number of the
/// deliveries still waiting, as a retry tier would; after `attempts` failures it is a dead letter.
/// The state is every table of the schema but the inbox and the bookkeeping, row by row, without
/// the columns a sequence or a random default fills, with the transaction's clock (`now()`) read
/// as one value, and with `volatile` columns left out.
public struct ShuffledDeliveries: Sendable {
    public typealias State = [String: [String]]
    /// What a table's state is, as texts, read inside the run's transaction.
    public typealias View = @Sendable (PostgresConnection) throws -> [String]

    public var handlers: [EventHandler]
    public var migrations: [Migration]
    /// Rows the service holds before the events come (an outline, an endpoint); committed once.
    public var setup: @Sendable (PostgresConnection) throws -> Void
    /// Per table, the columns set from the process's clock or at random, which differ between runs.
    public var volatile: [String: Set<String>]
    /// Per table, what of it is compared, when not its rows: a table that holds a plan rather
    /// than an outcome (mail queued and called off) is compared by the outcome it leads to.
    public var views: [String: View]
    public var runs: Int
    public var attempts: Int
    public var seed: UInt64

    public init(
        handlers: [EventHandler], migrations: [Migration], volatile: [String: Set<String>] = [:], views: [String: View] = [:], runs: Int = 40,
        attempts: Int = 8,
        seed: UInt64 = 0x5EED, setup: @escaping @Sendable (PostgresConnection) throws -> Void = { _ in }
    ) {
        self.handlers = handlers
        self.migrations = migrations
        self.volatile = volatile
        self.views = views
        self.runs = runs
        self.attempts = attempts
        self.seed = seed
        self.setup = setup
    }

    /// Runs the histories (each one aggregate's events in the order they were produced) in order of time,
    /// then `runs` times shuffled together and partly duplicated, and records an issue for every
    /// run whose state differs. Returns the state of the in-order run, for the caller to check
    /// that the events did what they should.
    @discardableResult
    public func check(_ histories: [[Delivery]], sourceLocation: SourceLocation = #_sourceLocation) async throws -> State {
        // One connection: a run is one transaction, and the suites of every service run at once.
        try await withMigratedSchema(migrations, poolSize: 1) { pool, schema in
            try await pool.transaction { try setup($0) }
            // The order the platform produced them in: by time, each aggregate's in its own order.
            let inOrder = histories.flatMap { $0 }.enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }.map(\.element)
            let reference = try await run(inOrder, pool: pool, schema: schema, seed: seed)
            #expect(reference.failures.isEmpty, "in order, events failed: \(reference.failures)", sourceLocation: sourceLocation)

            var generator = SeededGenerator(seed: seed)
            for index in 0..<runs {
                var deliveries = inOrder + inOrder.filter { _ in Int.random(in: 0..<3, using: &generator) == 0 }
                deliveries.shuffle(using: &generator)
                let outcome = try await run(deliveries, pool: pool, schema: schema, seed: seed &+ UInt64(index) &+ 1)
                let differences = Self.differences(reference.state, outcome.state)
                #expect(
                    differences.isEmpty && outcome.deadLetters.isEmpty,
                    """
                    run \(index) differs from the events in order
                    deliveries: \(outcome.log.joined(separator: ", "))
                    dead letters: \(outcome.deadLetters)
                    \(differences.joined(separator: "\n"))
                    """,
                    sourceLocation: sourceLocation)
            }
            return reference.state
        }
    }

    struct Outcome: Sendable {
        var state: State
        var log: [String]
        var failures: [String]
        var deadLetters: [String]
    }

    private func run(_ deliveries: [Delivery], pool: DatabasePool, schema: String, seed: UInt64) async throws -> Outcome {
        let handlers = handlers
        let attempts = attempts
        let volatile = volatile
        let views = views
        return try await pool.withConnection { connection in
            try connection.execute("BEGIN")
            defer { _ = try? connection.execute("ROLLBACK") }
            var generator = SeededGenerator(seed: seed)
            var pending = deliveries.map { (delivery: $0, attempt: 1) }
            var outcome = Outcome(state: [:], log: [], failures: [], deadLetters: [])
            while !pending.isEmpty {
                let (delivery, attempt) = pending.removeFirst()
                switch try EventConsumerService.deliver(delivery.envelope, to: handlers, on: connection) {
                case .success:
                    outcome.log.append(attempt == 1 ? delivery.name : "\(delivery.name) (attempt \(attempt))")
                case .failure(let error):
                    outcome.failures.append("\(delivery.name): \(error)")
                    if attempt == attempts {
                        outcome.deadLetters.append("\(delivery.name): \(error)")
                    } else {
                        pending.insert((delivery, attempt + 1), at: Int.random(in: 0...pending.count, using: &generator))
                    }
                }
            }
            outcome.state = try Self.state(of: schema, volatile: volatile, views: views, on: connection)
            return outcome
        }
    }

    /// Every table's rows as sorted JSON texts (jsonb orders the keys).
    static func state(of schema: String, volatile: [String: Set<String>], views: [String: View], on connection: PostgresConnection) throws -> State {
        let now = try connection.query("SELECT to_jsonb(now())::text AS now")[0].decode("now", as: String.self)
        let generated = try connection.query(
            """
            SELECT table_name, string_agg(column_name::text, ',') AS columns FROM information_schema.columns
            WHERE table_schema = \(schema) AND (is_identity = 'YES' OR column_default LIKE 'nextval(%' OR column_default LIKE '%gen_random_uuid()%')
            GROUP BY table_name
            """
        ).reduce(into: [String: [String]]()) { $0[try $1.decode("table_name", as: String.self)] = try $1.decode("columns", as: String.self).split(separator: ",").map(String.init) }
        let tables = try connection.query(
            "SELECT tablename::text AS name FROM pg_tables WHERE schemaname = \(schema) AND tablename NOT IN ('inbox', 'outbox_relay', 'schema_migrations')"
        ).map { try $0.decode("name", as: String.self) }
        var state = State()
        for table in tables {
            if let view = views[table] {
                state[table] = try view(connection).map { $0.replacingOccurrences(of: now, with: "\"now()\"") }.sorted()
                continue
            }
            let leftOut = Array(Set(generated[table] ?? []).union(volatile[table] ?? [])).sorted()
            let rows = try connection.query(
                "SELECT (to_jsonb(t) - \(array: leftOut))::text AS row FROM \(identifier: schema).\(identifier: table) t"
            ).map { try $0.decode("row", as: String.self).replacingOccurrences(of: now, with: "\"now()\"") }
            state[table] = rows.sorted()
        }
        return state
    }

    static func differences(_ expected: State, _ got: State) -> [String] {
        var lines: [String] = []
        for table in Set(expected.keys).union(got.keys).sorted() {
            let want = expected[table] ?? [], have = got[table] ?? []
            guard want != have else { continue }
            lines.append("\(table):")
            lines += want.filter { !have.contains($0) }.map { "  - \($0.prefix(600))" }
            lines += have.filter { !want.contains($0) }.map { "  + \($0.prefix(600))" }
            if Set(want) == Set(have) { lines.append("  (same rows, \(want.count) against \(have.count))") }
        }
        return lines
    }
}

/// A deterministic generator, so that a failing order can be run again.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension Dictionary where Key == String, Value == [String] {
    /// A table's rows in a `ShuffledDeliveries.State`, read back as JSON objects.
    public func rows(_ table: String) throws -> [[String: Any]] {
        try (self[table] ?? []).map { text in
            guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
                throw CocoaError(.coderReadCorrupt)
            }
            return object
        }
    }
}
