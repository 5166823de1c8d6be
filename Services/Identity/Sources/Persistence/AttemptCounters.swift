import Database
import Foundation

/// Attempts reserved against limits, in `attempt_counters`: one row per key and window, shared by
/// every replica.
public struct AttemptCounters: Sendable {
    let database: DatabasePool

    public init(database: DatabasePool) {
        self.database = database
    }

    /// What a reservation took, to give back after a success.
    public struct Reservation: Sendable {
        public let keys: [AttemptKey]
        public let windowStarts: [Date]
    }

    /// The attempt is refused; nothing was counted.
    public struct Refused: Error, Equatable {
        public let retryAfter: Int
    }

    /// Counts one attempt against every key, or against none: each key's row is incremented in
    /// the same statement that checks it (`ON CONFLICT … DO UPDATE … WHERE count < limit`), under
    /// the row's lock, and one full key rolls the others back. Keys are taken in one order, so two
    /// reservations never wait for each other in a cycle.
    public func reserve(_ keys: [AttemptKey], now: Date) async throws -> Reservation {
        let ordered = keys.sorted { $0.key < $1.key }
        return try await database.transaction { connection in
            var starts: [Date] = []
            for key in ordered {
                let start = key.windowStart(at: now)
                let count = try connection.query(
                    """
                    INSERT INTO attempt_counters AS c (key, window_start, count, expires_at)
                    VALUES (\(key.key), \(start), 1, \(start.addingTimeInterval(key.window)))
                    ON CONFLICT (key, window_start) DO UPDATE SET count = c.count + 1 WHERE c.count < \(key.limit)
                    RETURNING count
                    """
                ).first?.decode("count", as: Int.self)
                if let retryAfter = Throttle.retryAfter([(key, count)], now: now) { throw Refused(retryAfter: retryAfter) }
                starts.append(start)
            }
            return Reservation(keys: ordered, windowStarts: starts)
        }
    }

    /// Gives a reservation back (the attempt succeeded, or was never tried because the server was
    /// busy); `clearing` keys are emptied in every window instead.
    public func release(_ reservation: Reservation, clearing: Set<String> = []) async throws {
        try await database.transaction { connection in
            for (key, start) in zip(reservation.keys, reservation.windowStarts) {
                if clearing.contains(key.key) {
                    try connection.execute("DELETE FROM attempt_counters WHERE key = \(key.key)")
                } else {
                    try connection.execute(
                        "UPDATE attempt_counters SET count = count - 1 WHERE key = \(key.key) AND window_start = \(start) AND count > 0")
                }
            }
        }
    }

    /// Deletes what can no longer matter or is kept no longer: counters of past windows, OAuth
    /// sign-ins never finished, one-time links and sessions expired for a day (a refresh token
    /// past its expiry is refused whether its session is there or not), and admin audit entries
    /// older than `auditRetentionDays`. Returns how many rows went.
    @discardableResult
    public func prune(now: Date, auditRetentionDays: Int = 730) async throws -> Int {
        let dayAgo = now.addingTimeInterval(-86400)
        let auditCutoff = now.addingTimeInterval(-Double(auditRetentionDays) * 86400)
        // Each in batches of its own, so that a large first run neither holds locks long nor
        // meets the statement timeout, and one table's failure does not undo the others'.
        var total = 0
        for (table, condition) in [
            ("attempt_counters", "expires_at < \(now)" as Query), ("oauth_states", "expires_at < \(now)"),
            ("one_time_tokens", "expires_at < \(dayAgo)"), ("sessions", "expires_at < \(dayAgo)"), ("admin_audit", "at < \(auditCutoff)"),
        ] {
            total += try await database.inBatches(of: 5000) { limit in
                var statement: Query = "DELETE FROM \(identifier: table) WHERE ctid = ANY(ARRAY(SELECT ctid FROM \(identifier: table) WHERE "
                statement.append(condition)
                statement.append(" LIMIT \(limit)))")
                return statement
            }
        }
        return total
    }
}
