import Contracts
import Database
import Foundation
import ServiceKit

/// The questions operators ask, answered from the events table (all in UTC).
public struct Reports: Sendable {
    let database: DatabasePool

    public init(database: DatabasePool) { self.database = database }

    public enum Interval: String, Sendable, CaseIterable {
        case day, week, month
    }

    public struct Window: Sendable {
        public var from: Date
        public var to: Date
        public var interval: Interval
    }

    public struct Recorded: Codable, Sendable, Equatable {
        public var event: String
        public var source: String
        public var createdAt: Date
        public var properties: JSONValue
    }

    /// A user's events, oldest first (at most the last 1000).
    public func events(of user: UUID) async throws -> [Recorded] {
        try await database.query(
            """
            SELECT event, source, created_at, properties::text AS properties FROM (
                SELECT * FROM events WHERE user_id = \(user) ORDER BY created_at DESC, id DESC LIMIT 1000) e
            ORDER BY created_at, id
            """
        ).map {
            Recorded(
                event: try $0.decode("event"), source: try $0.decode("source"), createdAt: try $0.decode("created_at"),
                properties: try JSONValue(parsing: Data(try $0.decode("properties", as: String.self).utf8)))
        }
    }

    // MARK: Funnel

    public struct FunnelStep: Codable, Sendable, Equatable {
        public var event: String
        public var users: Int
        /// Of the users who reached the previous step (1 for the first).
        public var conversionFromPrevious: Double
        /// Of the users who reached the first step.
        public var conversionFromFirst: Double
    }

    /// Users who did each step, in order, each no earlier than the one before, the first within
    /// the window and the rest before its end.
    public func funnel(_ steps: [ProductEvent], from: Date, to: Date) async throws -> [FunnelStep] {
        let counts = try await database.withConnection { connection -> [Int] in
            var query: Query = "WITH "
            for (index, step) in steps.enumerated() {
                if index > 0 { query.append(", ") }
                if index == 0 {
                    query.append(
                        """
                        f0 AS (SELECT user_id, min(created_at) AS t FROM events
                               WHERE event = \(step.rawValue) AND user_id IS NOT NULL AND created_at >= \(from) AND created_at < \(to) GROUP BY user_id)
                        """)
                } else {
                    query.append(Query(sql: "f\(index) AS (SELECT e.user_id, min(e.created_at) AS t FROM f\(index - 1) p JOIN events e ON e.user_id = p.user_id AND e.event = "))
                    query.append("\(step.rawValue) AND e.created_at >= p.t AND e.created_at < \(to) GROUP BY e.user_id)")
                }
            }
            query.append(Query(sql: " SELECT " + steps.indices.map { "(SELECT count(*) FROM f\($0)) AS s\($0)" }.joined(separator: ", ")))
            let row = try connection.query(query).first!
            return try steps.indices.map { try row.decode("s\($0)", as: Int.self) }
        }
        return steps.enumerated().map { index, step in
            let previous = index == 0 ? counts[0] : counts[index - 1]
            return FunnelStep(
                event: step.rawValue, users: counts[index],
                conversionFromPrevious: previous == 0 ? 0 : Double(counts[index]) / Double(previous),
                conversionFromFirst: counts[0] == 0 ? 0 : Double(counts[index]) / Double(counts[0]))
        }
    }

    // MARK: Series

    public struct MRRPoint: Codable, Sendable, Equatable {
        public var bucket: Date
        /// The moment the figure is for: the bucket's end, or the window's end for the last.
        public var at: Date
        /// Minor units: ACTIVE subscriptions only, annual prices / 12, rounded as billing rounds.
        public var mrr: Int
        public var activeSubscriptions: Int
    }

    /// The buckets of a window, each with the moment it ends (the window's end for the last).
    static func buckets(_ window: Window) -> Query {
        """
        SELECT b AS bucket, least(b + \("1 \(window.interval.rawValue)")::interval, \(window.to)::timestamptz) AS point
        FROM generate_series(date_trunc(\(window.interval.rawValue), \(window.from)::timestamptz), \(window.to)::timestamptz - interval '1 microsecond',
                             \("1 \(window.interval.rawValue)")::interval) AS b
        """
    }

    /// MRR through time, rebuilt from billing's subscription events: at each moment, each
    /// subscription's newest announced state, counted by the one rule billing reports it by
    /// (`MRR`). The states in force are read grouped alike (status, interval, price), so a bucket
    /// is a handful of rows however many subscriptions there are.
    public func mrr(_ window: Window) async throws -> [MRRPoint] {
        let rows = try await database.transaction { connection in
            try connection.execute("SET LOCAL TIME ZONE 'UTC'")
            var query: Query = "WITH buckets AS ("
            query.append(Self.buckets(window))
            query.append(
                """
                )
                SELECT bucket, point, m.status, m.billing_interval, m.amount, coalesce(m.n, 0) AS n
                FROM buckets LEFT JOIN LATERAL (
                    SELECT s.status, s.billing_interval, s.amount, count(*) AS n
                    FROM (SELECT DISTINCT ON (subscription_id) status, billing_interval, amount FROM subscription_states
                          WHERE valid_from <= point ORDER BY subscription_id, sequence DESC) s
                    WHERE s.amount IS NOT NULL AND s.billing_interval IS NOT NULL
                    GROUP BY s.status, s.billing_interval, s.amount
                ) m ON true
                ORDER BY bucket
                """)
            return try connection.query(query).map { row in
                let line = try row.decode("status", as: String?.self).map { status in
                    MRR.Line(
                        status: SubscriptionStatus(rawValue: status), interval: BillingInterval(rawValue: try row.decode("billing_interval")),
                        amount: Int(try row.decode("amount", as: Int64.self)), count: try row.decode("n"))
                }
                return (bucket: try row.decode("bucket", as: Date.self), at: try row.decode("point", as: Date.self), line: line)
            }
        }
        var points: [MRRPoint] = []
        var lines: [MRR.Line] = []
        for (index, row) in rows.enumerated() {
            if let line = row.line { lines.append(line) }
            guard index == rows.count - 1 || rows[index + 1].bucket != row.bucket else { continue }
            let figure = MRR.compute(lines)
            points.append(MRRPoint(bucket: row.bucket, at: row.at, mrr: figure.mrr, activeSubscriptions: figure.subscriptions))
            lines = []
        }
        return points
    }

    public struct ActivePoint: Codable, Sendable, Equatable {
        public var bucket: Date
        public var activeLearners: Int
    }

    /// Learners who started or completed a lesson in each bucket.
    public func activeLearners(_ window: Window) async throws -> [ActivePoint] {
        try await database.transaction { connection in
            try connection.execute("SET LOCAL TIME ZONE 'UTC'")
            var query: Query = "WITH buckets AS ("
            query.append(Self.buckets(window))
            query.append(
                """
                )
                SELECT bucket, (SELECT count(DISTINCT user_id) FROM events
                                WHERE event IN ('lesson_started', 'lesson_completed') AND user_id IS NOT NULL
                                  AND created_at >= greatest(bucket, \(window.from)::timestamptz) AND created_at < point) AS active
                FROM buckets ORDER BY bucket
                """)
            return try connection.query(query).map { ActivePoint(bucket: try $0.decode("bucket"), activeLearners: try $0.decode("active")) }
        }
    }

    public struct CountPoint: Codable, Sendable, Equatable {
        public var bucket: Date
        public var event: String
        public var count: Int
    }

    /// Folds the counts written since the last time into `event_counts` (every few seconds, so
    /// that a count reads few changes); returns how many hourly rows it touched.
    @discardableResult
    public func compactCounts() async throws -> Int {
        try await database.query("SELECT compact_event_counts() AS folded").first!.decode("folded", as: Int.self)
    }

    /// How many of each event in each bucket (events with none are left out): whole UTC hours
    /// from `event_counts` and the changes not folded into it yet, the partial hours at the
    /// window's edges from the events themselves.
    public func counts(_ window: Window, events: [ProductEvent]) async throws -> [CountPoint] {
        try await database.transaction { connection in
            try connection.execute("SET LOCAL TIME ZONE 'UTC'")
            let names = events.map(\.rawValue)
            let query: Query = """
                WITH edges AS (
                    SELECT date_trunc('hour', \(window.from)::timestamptz + interval '1 hour' - interval '1 microsecond') AS first_hour,
                           date_trunc('hour', \(window.to)::timestamptz) AS end_hour)
                SELECT date_trunc(\(window.interval.rawValue), t) AS bucket, event, sum(n)::bigint AS n FROM (
                    SELECT c.hour AS t, c.event, c.n FROM event_counts c, edges
                    WHERE c.event = ANY(\(array: names)) AND c.hour >= edges.first_hour AND c.hour < edges.end_hour
                    UNION ALL
                    SELECT c.hour, c.event, c.n FROM event_count_changes c, edges
                    WHERE c.event = ANY(\(array: names)) AND c.hour >= edges.first_hour AND c.hour < edges.end_hour
                    UNION ALL
                    SELECT e.created_at, e.event, 1 FROM events e, edges
                    WHERE e.event = ANY(\(array: names)) AND e.created_at >= \(window.from) AND e.created_at < least(edges.first_hour, \(window.to))
                    UNION ALL
                    SELECT e.created_at, e.event, 1 FROM events e, edges
                    WHERE e.event = ANY(\(array: names)) AND e.created_at >= greatest(edges.end_hour, edges.first_hour, \(window.from))
                      AND e.created_at < \(window.to)
                ) counted
                GROUP BY 1, 2 HAVING sum(n) > 0 ORDER BY 1, 2
                """
            return try connection.query(query).map {
                CountPoint(bucket: try $0.decode("bucket"), event: try $0.decode("event"), count: try $0.decode("n"))
            }
        }
    }
}
