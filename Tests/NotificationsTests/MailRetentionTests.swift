import Database
import Foundation
import ServiceTesting
import Testing
import TestSupport

@testable import Notifications

/// Finished mail goes after the retention, with its log rows and its files; pending mail never does.
@Suite struct MailRetentionTests {
    @Test func finishedMailOlderThanTheRetentionGoesAndPendingMailStays() async throws {
        try await withMigratedSchema(NotificationsMigrations.all) { pool, _ in
            let now = Date()
            let user = UUID()
            // (status, finished days ago): the first two are past a 365-day retention.
            let entries: [(String, Double?)] = [("SENT", 400), ("SKIPPED", 366), ("SENT", 10), ("CANCELLED", 364), ("PENDING", nil)]
            var ids: [UUID] = []
            for (index, (status, age)) in entries.enumerated() {
                let id = UUID()
                ids.append(id)
                let finished = age.map { now.addingTimeInterval(-$0 * 86_400) }
                try await pool.execute(
                    """
                    INSERT INTO email_queue (id, user_id, template, kind, dedupe_key, scheduled_for, status, processed_at, created_at)
                    VALUES (\(id), \(user), 'WELCOME', 'transactional', \("retention-\(index)"), \(now.addingTimeInterval(-500 * 86_400)),
                        \(status), \(finished), \(now.addingTimeInterval(-500 * 86_400)))
                    """)
                if status == "SENT" || status == "SKIPPED" {
                    try await pool.execute(
                        "INSERT INTO email_log (queue_id, user_id, template, status, transport) VALUES (\(id), \(user), 'WELCOME', \(status), 'file')")
                }
            }
            let removed = try await MailRetention.sweep(finishedBefore: now.addingTimeInterval(-365 * 86_400), on: pool)
            #expect(removed == 2)
            let left = try await pool.query("SELECT id FROM email_queue").map { try $0.decode("id", as: UUID.self) }
            #expect(Set(left) == Set(ids[2...]))
            let logged = try await pool.query("SELECT queue_id FROM email_log").map { try $0.decode("queue_id", as: UUID.self) }
            #expect(logged == [ids[2]])
        }
    }

    @Test func mailFilesOlderThanTheRetentionGo() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mail-retention-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let old = directory.appendingPathComponent("old.eml"), recent = directory.appendingPathComponent("recent.eml")
        let other = directory.appendingPathComponent("notes.txt")
        for file in [old, recent, other] { try Data("mail".utf8).write(to: file) }
        let longAgo = Date().addingTimeInterval(-400 * 86_400)
        try FileManager.default.setAttributes([.modificationDate: longAgo], ofItemAtPath: old.path)
        try FileManager.default.setAttributes([.modificationDate: longAgo], ofItemAtPath: other.path)
        #expect(try MailRetention.sweep(filesIn: directory, changedBefore: Date().addingTimeInterval(-365 * 86_400)) == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() == ["notes.txt", "recent.eml"])
    }
}
