import Database
import Foundation
import Synchronization
import Testing
import TestSupport

/// What pool work did, seen from the test.
private final class PoolFlags: Sendable {
    let holding = Atomic<Bool>(false)
    let ranLate = Atomic<Bool>(false)
}

@Suite struct DatabaseIntegrationTests {
    /// A C string ends at NUL: a parameter holding one is refused, never stored cut short.
    @Test func aTextParameterWithNULIsRefusedNotTruncated() async throws {
        try await withTemporarySchema { pool, _ in
            try await pool.execute("CREATE TABLE notes (body text NOT NULL)")
            do {
                try await pool.execute("INSERT INTO notes (body) VALUES (\("kept\u{0}dropped"))")
                Issue.record("a NUL parameter was accepted")
            } catch DatabaseError.nulInParameter(let index) {
                #expect(index == 1)
            }
            #expect(try await pool.query("SELECT count(*) AS n FROM notes").first?.decode("n", as: Int.self) == 0, "nothing was written")
        }
    }

    /// A pipeline runs its statements in order in one round trip, prepared on first use and by
    /// name after; a failure stops it, rolls its transaction back and leaves the connection usable.
    @Test func aPipelineRunsInOrderAndStopsAtTheFirstFailure() async throws {
        try await withTemporarySchema(poolSize: 1) { pool, _ in
            try await pool.execute("CREATE TABLE notes (n int8 PRIMARY KEY, body text NOT NULL)")
            let first = try await pool.withConnection { connection in
                try connection.pipeline([
                    "BEGIN", "INSERT INTO notes VALUES (\(1), \("one"))", "INSERT INTO notes VALUES (\(2), \("two"))",
                    "SELECT n, body FROM notes WHERE n >= \(1) ORDER BY n", "COMMIT",
                ])
            }
            #expect(first.count == 5)
            #expect(try first[3].rows.map { try $0.decode("body", as: String.self) } == ["one", "two"])
            #expect(first[1].affectedRows == 1)

            // Again on the same connection: by name this time, with other values.
            let again = try await pool.withConnection { connection in
                try connection.pipeline(["SELECT n, body FROM notes WHERE n >= \(2) ORDER BY n"])
            }
            #expect(try again[0].rows.map { try $0.decode("n", as: Int64.self) } == [2])

            await #expect(throws: DatabaseError.self) {
                try await pool.withConnection { connection in
                    try connection.pipeline([
                        "BEGIN", "INSERT INTO notes VALUES (\(3), \("three"))", "INSERT INTO notes VALUES (\(1), \("again"))",
                        "INSERT INTO notes VALUES (\(4), \("four"))", "COMMIT",
                    ])
                }
            }
            let left = try await pool.query("SELECT n FROM notes ORDER BY n").map { try $0.decode("n", as: Int64.self) }
            #expect(left == [1, 2], "nothing of the failed pipeline stayed")
            #expect(try await pool.query("SELECT count(*) AS c FROM notes").first?.decode("c", as: Int.self) == 2, "the connection is usable")
        }
    }

    @Test func poolRunsConcurrentWorkOnEveryConnection() async throws {
        try await withTemporarySchema(poolSize: 4) { pool, _ in
            try await pool.execute("CREATE TABLE hits (n int8 NOT NULL)")
            // 200 concurrent transactions, each visible on its own backend.
            let backends = try await withThrowingTaskGroup(of: Int32.self) { group in
                for n in 0..<200 {
                    group.addTask {
                        try await pool.transaction { connection in
                            try connection.execute("INSERT INTO hits (n) VALUES (\(n))")
                            return connection.backendPID
                        }
                    }
                }
                var seen = Set<Int32>()
                for try await pid in group { seen.insert(pid) }
                return seen
            }
            #expect(backends.count == 4, "every connection of the pool did work")
            let row = try #require(try await pool.query("SELECT count(*) AS c, sum(n) AS s FROM hits").first)
            #expect(try row.decode("c", as: Int.self) == 200)
            #expect(try row.decode("s", as: Int.self) == (0..<200).reduce(0, +))
        }
    }

    @Test func transactionRollsBackWhenTheBodyThrows() async throws {
        struct Abort: Error {}
        // One connection: if the transaction were left open, the same session would see its rows.
        try await withTemporarySchema(poolSize: 1) { pool, _ in
            try await pool.execute("CREATE TABLE t (id int8 PRIMARY KEY)")
            await #expect(throws: Abort.self) {
                try await pool.transaction { connection in
                    try connection.execute("INSERT INTO t VALUES (\(1))")
                    try connection.execute("INSERT INTO t VALUES (\(2))")
                    throw Abort()
                }
            }
            #expect(try await pool.query("SELECT id FROM t").isEmpty, "nothing half-written")
            // The connection is clean for the next user: a new transaction works and commits.
            try await pool.transaction { try $0.execute("INSERT INTO t VALUES (\(3))") }
            #expect(try await pool.query("SELECT id FROM t").count == 1)
        }
    }

    @Test func uniqueViolationIsADistinctError() async throws {
        try await withTemporarySchema { pool, _ in
            try await pool.execute("CREATE TABLE u (email text NOT NULL)")
            try await pool.execute("CREATE UNIQUE INDEX u_email ON u (lower(email))")
            try await pool.execute("INSERT INTO u VALUES (\("ada@example.com"))")
            do {
                try await pool.execute("INSERT INTO u VALUES (\("ADA@example.com"))")
                Issue.record("the duplicate was accepted")
            } catch DatabaseError.uniqueViolation(let error) {
                #expect(error.sqlState == .uniqueViolation)
                #expect(error.constraint == "u_email")
            }
            // Other errors keep their SQLSTATE.
            do {
                try await pool.execute("INSERT INTO nowhere VALUES (1)")
                Issue.record("insert into a missing table succeeded")
            } catch let error as DatabaseError {
                #expect(error.sqlState == .undefinedTable)
            }
        }
    }

    @Test func typedValuesRoundTrip() async throws {
        try await withTemporarySchema { pool, _ in
            let id = UUID()
            let when = Date(timeIntervalSince1970: 1_795_346_716.123456)
            let bytes = Data([0, 1, 2, 255])
            let nothing: String? = nil
            let row = try #require(try await pool.query(
                """
                SELECT \(id) AS id, \(when) AS at, \(bytes) AS bytes, \(true) AS flag, \(Int64.max) AS big,
                       \(3.25) AS real, \("Grüße ' \" \\") AS text, \(nothing) AS missing, \(JSONB(#"{"a": [1, 2]}"#)) AS doc
                """
            ).first)
            #expect(try row.decode("id", as: UUID.self) == id)
            #expect(abs(try row.decode("at", as: Date.self).timeIntervalSince(when)) < 0.000_001)
            #expect(try row.decode("bytes", as: Data.self) == bytes)
            #expect(try row.decode("flag", as: Bool.self))
            #expect(try row.decode("big", as: Int64.self) == .max)
            #expect(try row.decode("real", as: Double.self) == 3.25)
            #expect(try row.decode("text", as: String.self) == "Grüße ' \" \\")
            #expect(try row.decode("missing", as: String?.self) == nil)
            #expect(throws: DatabaseError.self) { try row.decode("missing", as: String.self) }
            #expect(try row.decode("doc", as: JSONB.self).decode([String: [Int]].self) == ["a": [1, 2]])
        }
    }

    /// A statement past the pool's timeout is cancelled by the server, and reads as the database
    /// being unable to answer now (503 with Retry-After, a retried event); the connection goes on.
    @Test func aStatementPastItsTimeoutIsCancelledAndTheConnectionGoesOn() async throws {
        let pool = DatabasePool(
            url: try TestEnvironment.value("ADMIN_DATABASE_URL"), size: 1, name: "timeout-test", statementTimeout: .milliseconds(200),
            logger: TestEnvironment.logger)
        defer { pool.shutdown() }
        do {
            _ = try await pool.query("SELECT pg_sleep(30)")
            Issue.record("the statement ran past its timeout")
        } catch let error as DatabaseError {
            #expect(error.sqlState == .queryCanceled && error.isUnavailable, "\(error)")
        }
        #expect(try await pool.query("SELECT 1 AS one").first?.decode("one", as: Int.self) == 1)
    }

    /// Work that waits longer than the pool's acquire timeout for a connection fails as "not now"
    /// (503 with Retry-After, a retried event) while the connection is still taken, and never
    /// runs afterwards.
    @Test func workWaitingPastTheAcquireTimeoutFailsWithoutEverRunning() async throws {
        let pool = DatabasePool(
            url: try TestEnvironment.value("ADMIN_DATABASE_URL"), size: 1, name: "acquire-test", acquireTimeout: .seconds(1),
            logger: TestEnvironment.logger)
        defer { pool.shutdown() }
        let flags = PoolFlags()
        let release = DispatchSemaphore(value: 0)
        defer { release.signal() }
        // The only connection is taken until the test lets it go.
        let holder = Task {
            try await pool.withConnection { connection in
                flags.holding.store(true, ordering: .relaxed)
                release.wait()
                return try connection.execute("SELECT 1 AS one").rows.first?.decode("one", as: Int.self)
            }
        }
        try await eventually("the connection to be taken") { flags.holding.load(ordering: .relaxed) }
        // Were there no acquire timeout, the connection comes free after 15 s and the work runs:
        // the test then fails rather than waits for ever.
        let watchdog = Task {
            try await Task.sleep(for: .seconds(15))
            release.signal()
        }
        defer { watchdog.cancel() }
        do {
            _ = try await pool.withConnection { _ in flags.ranLate.store(true, ordering: .relaxed) }
            Issue.record("work ran although no connection was free")
        } catch let error as DatabaseError {
            guard case .noConnectionFree = error else { throw error }
            #expect(error.isUnavailable)
        }
        release.signal()
        #expect(try await holder.value == 1)
        #expect(try await pool.query("SELECT 2 AS two").first?.decode("two", as: Int.self) == 2)
        let ranLate = flags.ranLate.load(ordering: .relaxed)
        #expect(!ranLate, "the expired work never runs")
    }

    /// A batched statement runs until a batch changes fewer rows than the limit, and counts them all.
    @Test func batchesRunUntilOneChangesFewerThanTheLimit() async throws {
        try await withTemporarySchema { pool, _ in
            try await pool.execute("CREATE TABLE items (n int NOT NULL)")
            try await pool.execute("INSERT INTO items SELECT generate_series(1, 25)")
            var batches = 0
            let removed = try await pool.inBatches(of: 10) { limit in
                batches += 1
                return "DELETE FROM items WHERE ctid = ANY(ARRAY(SELECT ctid FROM items WHERE n > 0 LIMIT \(limit)))"
            }
            #expect(removed == 25)
            #expect(batches == 3, "10, 10, then 5: fewer than the limit")
            #expect(try await pool.query("SELECT count(*) AS n FROM items").first?.decode("n", as: Int.self) == 0)
        }
    }

    /// A session notices a peer that vanished without closing (a cut network) within about 30 s:
    /// keepalives and a TCP user timeout are on unless the URL says otherwise.
    @Test func sessionsProbeTheirPeerUnlessTheURLSaysOtherwise() throws {
        let url = try TestEnvironment.value("ADMIN_DATABASE_URL")
        let connection = try PostgresConnection(url: url)
        #expect(connection.option("keepalives_idle") == "15")
        #expect(connection.option("keepalives_interval") == "5")
        #expect(connection.option("keepalives_count") == "3")
        #expect(connection.option("tcp_user_timeout") == "30000")
        let own = try PostgresConnection(url: url + (url.contains("?") ? "&" : "?") + "keepalives_idle=60")
        #expect(own.option("keepalives_idle") == "60")
        #expect(own.option("keepalives_count") == "3")
    }

    @Test func listenerReceivesNotificationsOnItsOwnConnection() async throws {
        let url = try TestEnvironment.value("ADMIN_DATABASE_URL")
        let channel = "test_" + UUID().uuidString.prefix(8).lowercased()
        let listener = PostgresListener(url: url, channels: [channel], logger: TestEnvironment.logger)
        defer { listener.stop() }
        let pool = DatabasePool(url: url, size: 1, logger: TestEnvironment.logger)
        defer { pool.shutdown() }
        try await eventually("the listener to connect") { listener.isConnected }
        try await pool.transaction { connection in
            try connection.execute("SELECT pg_notify(\(channel), 'one')")
            try connection.execute("SELECT pg_notify(\(channel), 'two')")
        }
        var received: [String] = []
        for await event in listener.events {
            if case .notification(let notification) = event { received.append(notification.payload) }
            if received.count == 2 { break }
        }
        #expect(received == ["one", "two"])
    }

    @Test func migrationsApplyOnceInOrderAndRefuseEditedHistory() async throws {
        try await withTemporarySchema { pool, schema in
            let first = [
                Migration(version: 1, name: "a", sql: "CREATE TABLE a (id int)"),
                Migration(version: 2, name: "b", sql: "ALTER TABLE a ADD COLUMN b text"),
            ]
            // Replicas starting together: the advisory lock lets one apply, the others find it done.
            let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
                for _ in 0..<3 {
                    group.addTask { try await Migrator(schema: schema, migrations: first).migrate(pool, logger: TestEnvironment.logger) }
                }
                var all: [Int] = []
                for try await versions in group { all += versions }
                return all
            }
            #expect(applied.sorted() == [1, 2])
            let more = first + [Migration(version: 3, name: "c", sql: "INSERT INTO a (id, b) VALUES (1, 'x')")]
            #expect(try await Migrator(schema: schema, migrations: more).migrate(pool, logger: TestEnvironment.logger) == [3])
            #expect(try await Migrator(schema: schema, migrations: more).migrate(pool, logger: TestEnvironment.logger) == [])
            let edited = [first[0], Migration(version: 2, name: "b", sql: "ALTER TABLE a ADD COLUMN b int")]
            await #expect(throws: MigrationError.self) {
                try await Migrator(schema: schema, migrations: edited).migrate(pool, logger: TestEnvironment.logger)
            }
            // A failing migration leaves nothing behind.
            let broken = more + [Migration(version: 4, name: "d", sql: "CREATE TABLE d (id int); SELECT * FROM nowhere")]
            await #expect(throws: DatabaseError.self) {
                try await Migrator(schema: schema, migrations: broken).migrate(pool, logger: TestEnvironment.logger)
            }
            #expect(try await pool.query("SELECT 1 FROM pg_tables WHERE schemaname = \(schema) AND tablename = 'd'").isEmpty)
            #expect(try await pool.query("SELECT version FROM schema_migrations ORDER BY version").count == 3)
        }
    }
}
