import Database
import Foundation
import ServiceTesting
import Testing
import TestSupport

@testable import Identity

/// What identity keeps no longer goes with time: sessions expired for a day, audit entries past
/// their retention; the rest stays.
@Suite struct PruningTests {
    @Test func expiredSessionsAndOldAuditEntriesGoTheRestStays() async throws {
        try await withMigratedSchema(IdentityMigrations.all) { pool, _ in
            let now = Date()
            let user = UUID(), admin = UUID()
            try await pool.execute("INSERT INTO users (id, email, name) VALUES (\(user), 'pruned@example.com', 'Pruned')")
            func session(expires: Date) async throws -> UUID {
                let id = UUID()
                try await pool.execute(
                    "INSERT INTO sessions (id, user_id, refresh_token_hash, expires_at) VALUES (\(id), \(user), \(Data(id.uuidString.utf8)), \(expires))")
                return id
            }
            let expiredLongAgo = try await session(expires: now.addingTimeInterval(-3 * 86_400))
            let expiredJustNow = try await session(expires: now.addingTimeInterval(-3600))
            let live = try await session(expires: now.addingTimeInterval(30 * 86_400))
            for days in [800.0, 700.0] {
                try await pool.execute(
                    "INSERT INTO admin_audit (actor_id, action, target_id, at) VALUES (\(admin), 'role_changed', \(user), \(now.addingTimeInterval(-days * 86_400)))")
            }
            try await AttemptCounters(database: pool).prune(now: now, auditRetentionDays: 730)
            let sessions = Set(try await pool.query("SELECT id FROM sessions").map { try $0.decode("id", as: UUID.self) })
            #expect(sessions == [expiredJustNow, live])
            #expect(!sessions.contains(expiredLongAgo))
            let audit = try await pool.query("SELECT at FROM admin_audit").map { try $0.decode("at", as: Date.self) }
            #expect(audit.count == 1 && audit[0] > now.addingTimeInterval(-730 * 86_400))
        }
    }
}
