import Database
import Foundation
import Logging
import ServiceKit

/// How long mail is kept once it is done with (`MAIL_RETENTION_DAYS`, 365): queue entries that are
/// no longer pending, with their log rows, and the files the file transport wrote. Pending mail
/// is never removed, whatever its age. At least 30 days: longer than the inbox remembers an event
/// (so a replayed event still finds its mail's dedupe key) and than the archive replays.
public enum MailRetention {
    public static let minimumDays = 30

    /// Removes what was finished before `cutoff`, in batches; returns the queue entries removed.
    public static func sweep(finishedBefore cutoff: Date, on database: DatabasePool) async throws -> Int {
        var removed = 0
        while true {
            let batch = try await database.transaction { connection -> Int in
                let ids = try connection.query(
                    """
                    SELECT id FROM email_queue WHERE status <> 'PENDING' AND coalesce(processed_at, created_at) < \(cutoff)
                    ORDER BY id LIMIT 1000 FOR UPDATE SKIP LOCKED
                    """
                ).map { try $0.decode("id", as: UUID.self) }
                guard !ids.isEmpty else { return 0 }
                try connection.execute("DELETE FROM email_log WHERE queue_id = ANY(\(array: ids))")
                return try connection.execute("DELETE FROM email_queue WHERE id = ANY(\(array: ids))").affectedRows
            }
            removed += batch
            if batch < 1000 { return removed }
        }
    }

    /// Removes the file transport's mail files last changed before `cutoff`; returns how many.
    public static func sweep(filesIn directory: URL, changedBefore cutoff: Date) throws -> Int {
        let files = try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: [.contentModificationDateKey])
        var removed = 0
        for file in files where file.pathExtension == "eml" {
            guard let changed = try file.resourceValues(forKeys: [.contentModificationDateKey]).contentModificationDate, changed < cutoff else { continue }
            try FileManager.default.removeItem(at: file)
            removed += 1
        }
        return removed
    }

    /// Sweeps every hour, on every replica (a second sweep finds nothing).
    static func worker(days: Int, database: DatabasePool, mailDirectory: URL?, logger: Logger) -> PeriodicTask {
        PeriodicTask("mail-retention", every: .seconds(3600)) {
            let cutoff = Date().addingTimeInterval(-Double(days) * 86_400)
            do {
                let entries = try await sweep(finishedBefore: cutoff, on: database)
                let files = try mailDirectory.map { try sweep(filesIn: $0, changedBefore: cutoff) } ?? 0
                if entries + files > 0 {
                    logger.info("mail retention removed old mail", metadata: ["entries": "\(entries)", "files": "\(files)"])
                }
            } catch {
                logger.warning("could not remove old mail", metadata: ["error": "\(error)"])
            }
        }
    }
}
