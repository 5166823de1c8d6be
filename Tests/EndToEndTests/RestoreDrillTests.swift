import AsyncHTTPClient
import Database
import Foundation
import MessageBus
import NIOHTTP1
import Testing
import TestSupport

/// The restore drill, on the stack with backups (`drill`, which `make test` brings up after the
/// main suite): a backup, more writes, a restore of Postgres to a moment between them, and the
/// services started on what was restored.
///
/// Every schema lives on the one server, so the restore takes the whole platform back to one
/// moment together: producers' outboxes and consumers' inboxes agree. The broker is not
/// restored. What happens then:
/// - the relays publish again exactly what the restored outboxes hold (events committed before
///   the moment and published after it), with the same ids; nothing published before it;
/// - a consumer's inbox, restored to the same moment, applies such an event if it had not by the
///   moment (so it is applied again, onto state that forgot it), and ignores it if it had;
/// - what left the platform after the moment is not taken back: a subscriber outside it sees
///   those events twice (same ids), and a mail sent for such an event is sent again.
extension EndToEndTests {
    struct RestoreDrillTests {}
}

/// One outbox row: its schema, its event and whether its publication was recorded.
private struct OutboxRow: Hashable {
    let schema: String
    let eventID: String
    let published: Bool
}

extension EndToEndTests.RestoreDrillTests {
    @Test func aRestoreToAMomentKeepsExactlyWhatCameBeforeItAndTheServicesRunOnIt() async throws {
        let drill = StackProfile.drill
        let processes = try ServiceProcesses(portBase: 10_980, profile: drill)
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let api = JSONClient(client: http)
        let adminURL = try drill.value("ADMIN_DATABASE_URL")
        let admin = try AMQPAdmin(url: try drill.value("ADMIN_AMQP_URL"))
        let run = UUID().uuidString.prefix(8).lowercased()
        let probe = "drill.probe.\(run)"

        /// A fresh session each time: Postgres restarts under the test.
        @Sendable func database<T: Sendable>(_ body: (DatabasePool) async throws -> T) async throws -> T {
            let pool = DatabasePool(url: adminURL, size: 1, name: "restore-drill", logger: TestEnvironment.logger)
            defer { pool.shutdown() }
            return try await body(pool)
        }
        func outboxes() async throws -> Set<OutboxRow> {
            try await database { pool in
                let schemas = try await pool.query("SELECT table_schema AS s FROM information_schema.tables WHERE table_name = 'outbox' ORDER BY 1")
                var rows: Set<OutboxRow> = []
                for schema in try schemas.map({ try $0.decode("s", as: String.self) }) {
                    for row in try await pool.query("SELECT event_id::text AS id, published_at IS NOT NULL AS published FROM \(identifier: schema).outbox") {
                        rows.insert(OutboxRow(schema: schema, eventID: try row.decode("id", as: String.self), published: try row.decode("published", as: Bool.self)))
                    }
                }
                return rows
            }
        }
        func accounts() async throws -> Set<String> {
            try await database { pool in
                Set(try await pool.query("SELECT email FROM identity.users WHERE email LIKE \("drill.\(run).%")").map { try $0.decode("email", as: String.self) })
            }
        }
        func emails(_ group: String) -> [String] { (1...3).map { "drill.\(run).\(group)\($0)@example.com" } }
        func register(_ email: String) async throws -> Int { try await processes.register(email, name: "Drill", api: api).status }
        func welcomeMails(_ email: String) throws -> Int { try processes.welcomeMails(to: email) }
        /// Every event published and consumed, and every welcome mail sent and recorded as sent.
        func settle(_ list: [String], mails expected: Int = 1) async throws {
            // The outboxes last: a mail marked sent publishes an event of its own.
            try await eventually(timeout: .seconds(60), "the platform to settle") {
                guard try list.allSatisfy({ try welcomeMails($0) == expected }) else { return false }
                for service in ServiceProcesses.services where try await admin.messageCount(queue: service) > 0 { return false }
                let due = try await database { pool in
                    try await pool.query(
                        """
                        SELECT count(*) AS n FROM notifications.email_queue q JOIN notifications.recipients r USING (user_id)
                         WHERE r.email = ANY(\(array: list)) AND q.status = 'PENDING' AND q.scheduled_for <= now()
                        """)[0].decode("n", as: Int.self)
                }
                guard due == 0 else { return false }
                return try await outboxes().allSatisfy(\.published)
            }
        }

        // Every event published from the start, by id: the probe is bound to every service's exchanges.
        try await admin.declareQueue(probe, durable: true)  // it outlives the broker's restart
        for service in ServiceProcesses.services {
            for exchange in ["\(service).events", "\(service).private"] where try await admin.exchangeExists(exchange) {
                try await admin.bind(queue: probe, exchange: exchange, routingKey: "#")
            }
        }
        var seen: [IncomingMessage] = []
        func drainProbe() async throws -> [IncomingMessage] {
            let messages = try await admin.drain(queue: probe, limit: 10_000)
            seen += messages
            return messages
        }

        try processes.start()
        try await runJourney {
            try await processes.waitUntilReady(api)
            let (before, between, after) = (emails("a"), emails("b"), emails("c"))
            let pending = "drill.\(run).d1@example.com"
            for email in before { #expect(try await register(email) == 201) }
            try await settle(before)
            let backup = try await blocking { try drill.stack("backup", "full") }
            #expect(backup.contains("full backup"), "\(backup)")
            // Backups are timed in whole seconds: a moment to restore to is in a later second.
            func second() async throws -> Int {
                try await database { pool in
                    try await pool.query("SELECT floor(extract(epoch FROM clock_timestamp()))::bigint AS s")[0].decode("s", as: Int.self)
                }
            }
            let backedUp = try await second()

            for email in between { #expect(try await register(email) == 201) }
            try await settle(between)
            // At the moment, one registration's events are committed and not yet published: the
            // broker is down.
            try await eventually(timeout: .seconds(3), "a second after the backup's") { try await second() > backedUp }
            try await blocking { try drill.stack("stop-broker") }
            #expect(try await register(pending) == 201)
            let moment = try await database { pool in
                try await pool.query("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US+00') AS t")[0].decode("t", as: String.self)
            }
            let outboxAtMoment = try await outboxes()
            #expect(!outboxAtMoment.isEmpty && outboxAtMoment.allSatisfy { !$0.published && $0.schema == "identity" })
            try await blocking { try drill.stack("start-broker") }
            for email in after { #expect(try await register(email) == 201) }
            try await settle(after + [pending])
            #expect(try await accounts() == Set(before + between + [pending] + after))
            _ = try await drainProbe()
            let publishedBefore = Set(seen.compactMap(\.properties.messageID))
            #expect(Set(outboxAtMoment.map(\.eventID)).isSubset(of: publishedBefore))
            processes.stop()

            let restored = try await blocking { try drill.stack("restore", moment) }
            #expect(restored.contains("restored to \(moment)"), "\(restored)")

            // Exactly what was committed before the moment: its accounts, and the outboxes as they
            // stood (published rows are deleted, so what is left is what waited for the broker).
            #expect(try await accounts() == Set(before + between + [pending]))
            let outboxRestored = try await outboxes()
            #expect(outboxRestored == outboxAtMoment)

            // The services run on it. The accounts made after the moment are gone: their
            // addresses register again.
            seen = []
            _ = try await drainProbe()
            #expect(seen.isEmpty, "nothing is published while the services are stopped")
            try processes.start()
            try await processes.waitUntilReady(api)
            let again = try #require(after.first)
            #expect(try await register(again) == 201)
            try await settle([again, pending], mails: 2)
            let newAccount = try await database { pool in
                try await pool.query("SELECT id::text AS id FROM identity.users WHERE email = \(again)")[0].decode("id", as: String.self)
            }
            try await eventually(timeout: .seconds(30), "the new account's event on the probe") {
                _ = try await drainProbe()
                return seen.contains { String(decoding: $0.body, as: UTF8.self).contains(newAccount) }
            }
            // Published again: exactly what the restored outboxes held, nothing that had been
            // recorded as published before the moment.
            let republished = Set(seen.compactMap(\.properties.messageID)).intersection(publishedBefore)
            #expect(republished == Set(outboxRestored.map(\.eventID)))

            // Notifications' inbox, restored to the moment too, had not seen the pending
            // registration: it applies it, and that learner is welcomed a second time (mail left
            // the platform after the moment; the restore cannot take it back). Nobody else is.
            for email in before + between + after.dropFirst() { #expect(try welcomeMails(email) == 1, "\(email)") }
            #expect(try welcomeMails(pending) == 2)
            #expect(try welcomeMails(again) == 2)

            let login = try await api.send(
                .POST, processes.url("identity", "/v1/auth/login"), json: #"{"email":"\#(before[0])","password":"correct horse battery"}"#)
            #expect(login.status == 200)
            let gone = try await api.send(
                .POST, processes.url("identity", "/v1/auth/login"), json: #"{"email":"\#(after[1])","password":"correct horse battery"}"#)
            #expect(gone.status == 401)
        } finish: {
            processes.stop()
            try? await admin.deleteQueue(probe)
            try? await http.shutdown()
        }
    }
}
