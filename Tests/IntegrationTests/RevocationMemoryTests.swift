import Database
import Foundation
import Testing
import TestSupport

@testable import ServiceKit

/// Each replica's memory of revoked access: it answers only while it hears every change, forgets
/// a user when a change is announced, and never keeps a state read while one was announced.
@Suite struct RevocationMemoryTests {
    typealias State = AccessRevocations.State
    let fine = State(deleted: false, notBefore: nil)

    @Test func itVouchesOnlyWhileListeningAndKeepsNothingReadDuringAChange() {
        let memory = RevocationMemory(lifetime: .seconds(60), capacity: 2)
        let (ada, bob, cy) = (UUID(), UUID(), UUID())
        memory.keep(fine, of: ada, ifStill: memory.generation)
        #expect(memory.state(of: ada) == nil, "not listening: nothing is kept or vouched for")

        memory.setListening(true)
        memory.keep(fine, of: ada, ifStill: memory.generation)
        #expect(memory.state(of: ada) == fine)

        let before = memory.generation
        memory.changed(bob)
        memory.keep(fine, of: cy, ifStill: before)
        #expect(memory.state(of: cy) == nil, "a change was announced while the state was read")

        let now = ContinuousClock.now
        memory.keep(fine, of: bob, ifStill: memory.generation, now: now)
        #expect(memory.state(of: bob, now: now + .seconds(59)) == fine)
        #expect(memory.state(of: bob, now: now + .seconds(61)) == nil, "kept for its lifetime at most")

        memory.changed(bob)
        #expect(memory.state(of: bob) == nil && memory.state(of: ada) == fine, "a change forgets its user only")
        memory.keep(fine, of: cy, ifStill: memory.generation)
        memory.keep(fine, of: bob, ifStill: memory.generation)
        #expect(memory.state(of: bob) == fine && memory.state(of: ada) == nil, "full: it starts afresh")
        memory.changed(nil)
        #expect(memory.state(of: bob) == nil, "a lost connection forgets everyone")
        memory.keep(fine, of: ada, ifStill: memory.generation)
        memory.setListening(false)
        #expect(memory.state(of: ada) == nil)
    }

    /// Over Postgres: a revocation written by any connection reaches the memory by NOTIFY (the
    /// triggers announce it), and the next check refuses the token.
    @Test func aRevocationWrittenAnywhereIsHeardAndTheNextCheckRefuses() async throws {
        let url = try StackProfile.test.value("ADMIN_DATABASE_URL")
        try await withTemporarySchema { pool, schema in
            let migrations = [Tombstones.migration(version: 1), AccessRevocations.migration(version: 2), AccessRevocations.notificationMigration(version: 3)]
            _ = try await Migrator(schema: schema, migrations: migrations).migrate(pool, logger: TestEnvironment.logger)
            let memory = RevocationMemory()
            let listener = memory.follow(listenURL: url, logger: TestEnvironment.logger)
            defer { listener.stop() }
            let check = AccessRevocations.check(pool, memory: memory)
            let (ada, bob) = (UUID(), UUID())
            let issued = Date()
            try await eventually("the memory to listen and keep what it read") {
                _ = try await check(ada, issued)
                return memory.state(of: ada) != nil
            }
            #expect(memory.state(of: ada) == fine)

            try await pool.transaction { try AccessRevocations.revoke(ada, before: issued.addingTimeInterval(1), on: $0) }
            try await eventually("the revocation to be heard") { memory.state(of: ada) == nil }
            #expect(try await check(ada, issued) == "the account's role changed since the token was issued; refresh it")
            #expect(try await check(ada, issued.addingTimeInterval(2)) == nil, "a token issued after the change counts")

            _ = try await check(bob, issued)
            try await pool.execute("INSERT INTO user_tombstones (user_id, deleted_at) VALUES (\(bob), now())")
            try await eventually("the deletion to be heard") { memory.state(of: bob) == nil }
            #expect(try await check(bob, issued) == "the account no longer exists")

            listener.stop()
            try await eventually("the memory to stop vouching once it no longer hears") { memory.state(of: bob) == nil && !memory.isListening }
        }
    }
}
