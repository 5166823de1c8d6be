import Contracts
import Database
import Foundation
import MessageBus
import ServiceKit
import Testing
import TestSupport

/// A numbered event the fault tests publish, count and check off.
struct Numbered: DomainEvent {
    static let eventType = EventType(producer: .identity, name: "fault.numbered", majorVersion: 1)
    var run: String
    var n: Int
    var subject: String { run }
}

let faultLogger = TestEnvironment.logger
let fault = StackProfile.fault

/// The schema the fault tests apply events into: outbox, inbox and an `effects` table whose rows
/// are the handler's effect, one per applied event.
let faultMigrations = [
    Outbox.migration(version: 1),
    Outbox.relayMigration(version: 2),
    Migration(version: 3, name: "effects", sql: "CREATE TABLE effects (run text NOT NULL, n int8 NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"),
    // What the producers committed, written in the same transaction as the outbox row: the relay
    // deletes what it has published, so this ledger is the truth a test counts against.
    Migration(version: 4, name: "produced", sql: "CREATE TABLE produced (run text NOT NULL, n int8 NOT NULL, PRIMARY KEY (run, n))"),
]

func effectHandler(failWhen shouldFail: @escaping @Sendable (Numbered) -> Bool = { _ in false }) -> EventHandler {
    EventHandler(Numbered.self, name: "effects") { event, connection in
        struct Refused: Error, CustomStringConvertible { var description: String { "refused on purpose" } }
        if shouldFail(event.data) { throw Refused() }
        try connection.execute("INSERT INTO effects (run, n) VALUES (\(event.data.run), \(event.data.n))")
    }
}

/// How many effects each `n` has: every event must have exactly one.
func effectCounts(_ pool: DatabasePool, run: String) async throws -> (distinct: Int, total: Int) {
    let row = try #require(try await pool.query("SELECT count(DISTINCT n) AS d, count(*) AS t FROM effects WHERE run = \(run)").first)
    return (try row.decode("d", as: Int.self), try row.decode("t", as: Int.self))
}

/// A durable quorum queue of the test's own with the main-queue arguments of the topology, its
/// retry tiers and its dead-letter queue, bound to `Numbered` on identity's exchange.
func declareConsumerQueue(_ admin: AMQPAdmin, name: String, retryDelays: [Int] = [200, 400], deliveryLimit: Int = 10) async throws {
    let consumer = Topology.ConsumerQueue(
        service: name, bindings: [.init(exchange: "identity.events", routingKey: Numbered.eventType.routingKey)],
        deliveryLimit: deliveryLimit, retryDelays: retryDelays)
    _ = try await admin.apply(Topology(exchanges: ["identity.events"], consumers: [consumer]))
}

func removeConsumerQueue(_ admin: AMQPAdmin, name: String, retryDelays: [Int] = [200, 400]) async {
    for queue in [name, "\(name).dlq"] + retryDelays.map({ "\(name).retry.\($0)" }) {
        try? await admin.deleteQueue(queue)
    }
}

/// What a bus fault test works with: a migrated schema of its own (`faultMigrations`), an
/// administrator's broker session, and a consumer queue of its own (`fault.<name>.<schema>`, with
/// its retry tiers and dead-letter queue), removed afterwards.
struct FaultSetting: Sendable {
    let pool: DatabasePool, schema: String, amqp: String, admin: AMQPAdmin, queue: String
}

func withFaultQueue(_ name: String, poolSize: Int = 4, _ body: (FaultSetting) async throws -> Void) async throws {
    try await withTemporarySchema(poolSize: poolSize, stack: fault) { pool, schema in
        try await Migrator(schema: schema, migrations: faultMigrations).migrate(pool, logger: faultLogger)
        let amqp = try fault.value("ADMIN_AMQP_URL")
        let admin = try AMQPAdmin(url: amqp)
        let queue = "fault.\(name).\(schema)"
        try await declareConsumerQueue(admin, name: queue)
        try await body(FaultSetting(pool: pool, schema: schema, amqp: amqp, admin: admin, queue: queue))
        await removeConsumerQueue(admin, name: queue)
    }
}
