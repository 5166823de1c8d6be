import Database
import Foundation
import ServiceKit

/// Apps' events and the counters that limit them.
struct CollectStore: Sendable {
    let database: DatabasePool

    /// Counts the batch against this minute's windows of the session and the address, asks
    /// `refusal` whether the counts are allowed, and records the events (once each, by session and
    /// id). Both counters move in the same transaction: a refused batch counts against neither.
    /// A signed-in caller's session becomes theirs, earlier anonymous events included.
    func record(
        _ events: [ClientEvents.Accepted], session: String, user: UUID?, address: String, now: Date,
        refusal: @escaping @Sendable (_ session: Int, _ address: Int) -> DomainError?
    ) async throws -> Int {
        try await database.transaction { connection -> Int in
            let used = try connection.query(
                """
                WITH by_session AS (
                    INSERT INTO session_rates (session_id, window_start, count) VALUES (\(session), date_trunc('minute', \(now)::timestamptz), \(events.count))
                    ON CONFLICT (session_id, window_start) DO UPDATE SET count = session_rates.count + excluded.count
                    RETURNING count
                ), by_address AS (
                    INSERT INTO address_rates (address, window_start, count) VALUES (\(address), date_trunc('minute', \(now)::timestamptz), \(events.count))
                    ON CONFLICT (address, window_start) DO UPDATE SET count = address_rates.count + excluded.count
                    RETURNING count
                )
                SELECT (SELECT count FROM by_session) AS session, (SELECT count FROM by_address) AS address
                """
            ).first!
            if let refused = refusal(try used.decode("session", as: Int.self), try used.decode("address", as: Int.self)) { throw refused }
            var recorded = 0
            for event in events {
                let new = try EventStore.record(
                    event.event, user: user, session: session, properties: event.properties, source: "client",
                    sourceID: "client:\(session):\(event.id)", at: event.time, on: connection)
                if new { recorded += 1 }
            }
            if let user { try EventStore.stitch(session: session, to: user, on: connection) }
            return recorded
        }
    }

    /// Deletes events from before `cutoff`, and rate-limit windows over an hour old; returns how
    /// many events went.
    func sweep(olderThan cutoff: Date, now: Date) async throws -> Int {
        try await database.transaction { connection in
            try connection.execute("DELETE FROM session_rates WHERE window_start < \(now.addingTimeInterval(-3600))")
            try connection.execute("DELETE FROM address_rates WHERE window_start < \(now.addingTimeInterval(-3600))")
            return try connection.execute("DELETE FROM events WHERE created_at < \(cutoff)").affectedRows
        }
    }
}
