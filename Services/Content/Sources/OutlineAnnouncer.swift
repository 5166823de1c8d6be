import Database
import Foundation
import Logging
import ServiceKit

/// When the published outline is announced: once an authoring burst has been quiet for `quiet`,
/// and at most `maxDelay` after the burst's first change, so that an author adding a thousand
/// lessons causes a handful of `content.course.outline_changed.v1` events, not a thousand. Every
/// event still carries the whole outline.
///
/// Each change records when the announcement falls due (in the `outline` row, so every replica
/// agrees); the replica that made the change is woken when it commits, and any replica announces
/// a due outline its peer did not (one that stopped meanwhile).
public struct OutlineAnnouncing: Sendable {
    public var quiet: Duration
    public var maxDelay: Duration
    /// Wakes this replica's announcer when a change commits.
    let wake = WakeSignal()

    public init(quiet: Duration = .milliseconds(500), maxDelay: Duration = .seconds(5)) {
        self.quiet = quiet
        self.maxDelay = maxDelay
    }

    /// The announcer of one replica.
    static func worker(_ store: CourseStore, logger: Logger) -> DrainingWorker {
        // Nothing due: look again now and then, for a change whose replica stopped before announcing.
        DrainingWorker("outline-announcer", wake: store.announcing.wake, idle: .seconds(5), logger: logger) {
            try await store.announceDueOutline()
        }
    }
}

extension CourseStore {
    /// Records that the outline changed: its announcement falls due once the burst is quiet.
    static func scheduleAnnouncement(_ announcing: OutlineAnnouncing, on connection: PostgresConnection) throws {
        let quiet = Int64(announcing.quiet.milliseconds)
        let maxDelay = Int64(announcing.maxDelay.milliseconds)
        try connection.execute(
            """
            UPDATE outline SET burst_started_at = coalesce(burst_started_at, now()),
                announce_due_at = least(coalesce(burst_started_at, now()) + \(maxDelay) * interval '1 millisecond', now() + \(quiet) * interval '1 millisecond')
            """)
        connection.afterCommit(key: "outline-announcer") { announcing.wake.signal() }
    }

    /// Announces the outline if its announcement is due (or, with `now`, if one is pending at
    /// all); answers how long until one pending falls due, nil when none is.
    @discardableResult
    public func announceDueOutline(now: Bool = false) async throws -> Duration? {
        let pending = try await database.query(
            "SELECT (extract(epoch FROM announce_due_at - clock_timestamp()) * 1000)::bigint AS wait FROM outline WHERE announce_due_at IS NOT NULL")
        guard let wait = try pending.first?.decode("wait", as: Int64.self) else { return nil }
        if wait > 0 && !now { return .milliseconds(wait) }
        return try await database.transaction { connection in
            let pending = try connection.query(
                "SELECT announce_due_at <= clock_timestamp() AS due FROM outline WHERE announce_due_at IS NOT NULL FOR UPDATE")
            guard let row = pending.first else { return nil }
            let due = try row.decode("due", as: Bool.self)
            guard now || due else { return .zero }
            try Self.announceOutlineIfChanged(on: connection, now: Date())
            try connection.execute("UPDATE outline SET announce_due_at = NULL, burst_started_at = NULL")
            return nil
        }
    }
}
