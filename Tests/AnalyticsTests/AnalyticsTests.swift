import Contracts
import Database
import Foundation
import ServiceKit
import Testing
import TestSupport

@testable import Analytics

@Suite struct ClientEventTests {
    let now = Date(timeIntervalSince1970: 1_900_000_000)

    func batch(_ json: String) throws -> ClientEvents.Batch {
        try JSONDecoder().decode(ClientEvents.Batch.self, from: Data(json.utf8))
    }

    func codes(_ json: String) throws -> [String] {
        do {
            _ = try ClientEvents.validate(try batch(json), now: now)
            return []
        } catch let error as DomainError {
            return error.errors.map(\.code)
        }
    }

    @Test func aValidBatchIsAccepted() throws {
        let (session, events) = try ClientEvents.validate(
            try batch(#"{"sessionId":"abcdefgh-1234567","events":[{"event":"paywall_viewed","timestamp":"2030-03-17T17:46:40Z","properties":{"placement":"lesson_2","count":2,"first":true}},{"event":"subscription_plan_selected","timestamp":"2030-03-17T17:46:40Z","properties":{"tier":"pro","interval":"ANNUAL"}}]}"#),
            now: now)
        #expect(session == "abcdefgh-1234567")
        #expect(events.map(\.event) == [.paywallViewed, .subscriptionPlanSelected])
    }

    @Test func everyProblemIsNamed() throws {
        #expect(try codes(#"{"sessionId":"short","events":[]}"#) == ["invalid_session", "required"])
        #expect(try codes(#"{"sessionId":"abcdefgh12345678","events":[{"event":"nope","timestamp":"2030-03-17T17:46:40Z"}]}"#) == ["unknown_event"])
        #expect(try codes(#"{"sessionId":"abcdefgh12345678","events":[{"event":"payment_failed","timestamp":"2030-03-17T17:46:40Z"}]}"#) == ["server_event"])
        #expect(try codes(#"{"sessionId":"abcdefgh12345678","events":[{"event":"signup_started"}]}"#) == ["required"])
        #expect(try codes(#"{"sessionId":"abcdefgh12345678","events":[{"event":"signup_started","timestamp":"yesterday"}]}"#) == ["invalid_timestamp"])
        #expect(try codes(#"{"sessionId":"abcdefgh12345678","events":[{"event":"signup_started","timestamp":"2030-03-17T18:46:40Z"}]}"#) == ["in_the_future"])
        #expect(try codes(#"{"sessionId":"abcdefgh12345678","events":[{"event":"signup_started","timestamp":"2030-03-01T00:00:00Z"}]}"#) == ["too_old"])
        #expect(try codes(#"{"sessionId":"abcdefgh12345678","events":[{"event":"paywall_viewed","timestamp":"2030-03-17T17:46:40Z","properties":{"nested":{"a":1}}}]}"#) == ["invalid_value", "required"])
        #expect(try codes(#"{"sessionId":"abcdefgh12345678","events":[{"event":"signup_started","timestamp":"2030-03-17T17:46:40Z","properties":{"bad name":"x"}}]}"#) == ["invalid_name"])
        let many = Array(repeating: #"{"event":"signup_started","timestamp":"2030-03-17T17:46:40Z"}"#, count: 51).joined(separator: ",")
        #expect(try codes(#"{"sessionId":"abcdefgh12345678","events":[\#(many)]}"#) == ["too_many"])
    }
}

/// MRR through time and funnels, against a real schema.
@Suite(.serialized) struct ReportTests {
    func withReports(_ body: (Reports, DatabasePool) async throws -> Void) async throws {
        try await withTemporarySchema { pool, schema in
            _ = try await Migrator(schema: schema, migrations: AnalyticsMigrations.all).migrate(pool, logger: TestEnvironment.logger)
            try await body(Reports(database: pool), pool)
        }
    }

    func state(_ id: String, _ status: String, _ interval: String, _ amount: Int, sequence: Int64, at time: Date, on pool: DatabasePool) async throws {
        let state = SubscriptionState(
            subscriptionId: id, userId: nil, status: SubscriptionStatus(rawValue: status), tier: .pro, interval: BillingInterval(rawValue: interval),
            amount: amount, currency: "gbp",
            currentPeriodStart: nil, currentPeriodEnd: nil, cancelAtPeriodEnd: false, cancelledAt: nil, paymentFailedAt: nil)
        try await pool.transaction { try EventStore.subscription(state, sequence: sequence, at: time, on: $0) }
    }

    @Test func mrrAtEachMomentCountsTheStatesThenInForce() async throws {
        let day = 86400.0
        let t0 = Date(timeIntervalSince1970: 1_900_000_000 - 1_900_000_000.truncatingRemainder(dividingBy: day))
        try await withReports { reports, pool in
            try await state("a", "ACTIVE", "MONTHLY", 4900, sequence: 1, at: t0.addingTimeInterval(3600), on: pool)
            try await state("b", "ACTIVE", "ANNUAL", 39900, sequence: 1, at: t0.addingTimeInterval(day + 3600), on: pool)
            try await state("a", "PAST_DUE", "MONTHLY", 4900, sequence: 2, at: t0.addingTimeInterval(2 * day + 3600), on: pool)
            try await state("c", "ACTIVE", "ANNUAL", 19000, sequence: 1, at: t0.addingTimeInterval(2 * day + 3600), on: pool)
            // An older state arriving late does not win over a newer one.
            try await state("b", "INCOMPLETE", "ANNUAL", 39900, sequence: 0, at: t0.addingTimeInterval(2 * day), on: pool)
            let points = try await reports.mrr(.init(from: t0, to: t0.addingTimeInterval(3 * day), interval: .day))
            #expect(points.map(\.mrr) == [4900, 4900 + 3325, (39900 + 19000 + 6) / 12])
            #expect(points.map(\.activeSubscriptions) == [1, 2, 2])
            #expect(points.last?.at == t0.addingTimeInterval(3 * day))
        }
    }

    /// Counts read whole hours from the hourly roll-up and the window's partial edge hours from
    /// the events: the same figures as counting every event, through inserts, a repeated event
    /// and a retention sweep.
    @Test func countsFromTheHourlyRollUpAreTheEventsCounted() async throws {
        let day = 86400.0
        let midnight = Date(timeIntervalSince1970: 1_900_000_000 - 1_900_000_000.truncatingRemainder(dividingBy: day))
        try await withReports { reports, pool in
            // Events every 7 minutes over three days, in two statements' worth of transactions.
            let times = stride(from: 0.0, to: 3 * day, by: 420).map { midnight.addingTimeInterval($0) }
            for (half, slice) in [times[..<(times.count / 2)], times[(times.count / 2)...]].enumerated() {
                try await pool.transaction { connection in
                    for (index, time) in slice.enumerated() {
                        let event: ProductEvent = index % 3 == 0 ? .lessonCompleted : .lessonStarted
                        try EventStore.record(event, user: UUID(), source: "server", sourceID: "count:\(half):\(index)", at: time, on: connection)
                    }
                }
            }
            #expect(try await pool.transaction { connection in
                try EventStore.record(.lessonStarted, user: UUID(), source: "server", sourceID: "count:0:1", at: times[1], on: connection)
            } == false, "a repeated event is not counted twice")

            func expected(_ window: Reports.Window) async throws -> [Reports.CountPoint] {
                try await pool.transaction { connection in
                    try connection.execute("SET LOCAL TIME ZONE 'UTC'")
                    return try connection.query(
                        """
                        SELECT date_trunc(\(window.interval.rawValue), created_at) AS bucket, event, count(*) AS n FROM events
                        WHERE created_at >= \(window.from) AND created_at < \(window.to) AND event IN ('lesson_started', 'lesson_completed')
                        GROUP BY 1, 2 ORDER BY 1, 2
                        """
                    ).map { Reports.CountPoint(bucket: try $0.decode("bucket"), event: try $0.decode("event"), count: try $0.decode("n")) }
                }
            }
            // Edges inside hours, on hours, and a window within one hour.
            let windows: [Reports.Window] = [
                .init(from: midnight.addingTimeInterval(1000), to: midnight.addingTimeInterval(2 * day + 5000), interval: .day),
                .init(from: midnight, to: midnight.addingTimeInterval(3 * day), interval: .day),
                .init(from: midnight.addingTimeInterval(3700), to: midnight.addingTimeInterval(5000), interval: .day),
                .init(from: midnight.addingTimeInterval(1000), to: midnight.addingTimeInterval(3 * day), interval: .week),
            ]
            for window in windows {
                let counted = try await reports.counts(window, events: [.lessonStarted, .lessonCompleted])
                #expect(!counted.isEmpty)
                #expect(try await counted == expected(window), "from the changes not folded yet")
            }
            #expect(try await reports.compactCounts() > 0)
            #expect(try await pool.query("SELECT count(*) AS n FROM event_count_changes").first!.decode("n", as: Int.self) == 0)
            for window in windows {
                #expect(try await reports.counts(window, events: [.lessonStarted, .lessonCompleted]) == expected(window), "from the hourly rows")
            }
            // A retention sweep cutting an hour in two, counted before and after it is folded in.
            try await pool.execute("DELETE FROM events WHERE created_at < \(midnight.addingTimeInterval(day + 1800))")
            for window in windows {
                #expect(try await reports.counts(window, events: [.lessonStarted, .lessonCompleted]) == expected(window))
            }
            try await reports.compactCounts()
            for window in windows {
                #expect(try await reports.counts(window, events: [.lessonStarted, .lessonCompleted]) == expected(window))
            }
            let total = try await pool.query("SELECT (SELECT sum(n) FROM event_counts)::bigint = (SELECT count(*) FROM events) AS same").first!
            #expect(try total.decode("same", as: Bool.self), "the roll-up holds every event once")
        }
    }

    /// Writers inserting events of the same hours in opposite orders, at once, never wait for
    /// each other's counts (they used to lock the same hourly rows in different orders).
    @Test func concurrentWritersOfTheSameHoursDoNotDeadlock() async throws {
        let hour = Date(timeIntervalSince1970: 1_900_000_800)
        try await withReports { reports, pool in
            let events: [ProductEvent] = [.lessonStarted, .lessonCompleted, .moduleCompleted, .signupCompleted]
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<4 {
                    group.addTask {
                        for round in 0..<25 {
                            try await pool.transaction { connection in
                                let order = writer % 2 == 0 ? events : events.reversed()
                                for (index, event) in order.enumerated() {
                                    try EventStore.record(event, user: UUID(), source: "server", sourceID: "race:\(writer):\(round):\(index)", at: hour, on: connection)
                                }
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            try await reports.compactCounts()
            let counted = try await pool.query("SELECT sum(n)::bigint AS n FROM event_counts").first!.decode("n", as: Int.self)
            #expect(counted == 4 * 25 * 4)
        }
    }

    @Test func aFunnelCountsUsersWhoTookTheStepsInOrder() async throws {
        let t = Date(timeIntervalSince1970: 1_900_000_000)
        try await withReports { reports, pool in
            let (a, b, c) = (UUID(), UUID(), UUID())
            let rows: [(UUID, ProductEvent, Double)] = [
                (a, .signupCompleted, 0), (a, .video1Completed, 10), (a, .subscriptionStarted, 20),
                (b, .signupCompleted, 0), (b, .subscriptionStarted, 5),
                (c, .video1Completed, 0), (c, .signupCompleted, 10),  // out of order: not a video_1 after signup
            ]
            try await pool.transaction { connection in
                for (index, row) in rows.enumerated() {
                    try EventStore.record(row.1, user: row.0, source: "server", sourceID: "test:\(index)", at: t.addingTimeInterval(row.2), on: connection)
                }
            }
            let steps = try await reports.funnel([.signupCompleted, .video1Completed, .subscriptionStarted], from: t, to: t.addingTimeInterval(100))
            #expect(steps.map(\.users) == [3, 1, 1])
            #expect(steps.map(\.conversionFromPrevious) == [1, 1.0 / 3.0, 1])
        }
    }
}
