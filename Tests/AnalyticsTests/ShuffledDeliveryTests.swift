import Database
import Foundation
import ServiceTesting
import Testing

@testable import Analytics

/// Analytics's handlers, fed the platform's events out of order and some twice, end as in order.
@Suite struct ShuffledDeliveryTests {
    /// The hourly counts the changes add up to (how they were split into changes depends on the order).
    static let counts: ShuffledDeliveries.View = { connection in
        try connection.query("SELECT event, hour, sum(n)::bigint AS n FROM event_count_changes GROUP BY event, hour HAVING sum(n) <> 0").map {
            "\(try $0.decode("event", as: String.self)) \(try $0.decode("hour", as: Date.self)) \(try $0.decode("n", as: Int64.self))"
        }
    }

    @Test func anyOrderEndsAsTheOrderOfProduction() async throws {
        let life = try PlatformHistories()
        let state = try await ShuffledDeliveries(handlers: AnalyticsHandlers.all, migrations: AnalyticsMigrations.all, volatile: ["events": ["id"]], views: ["event_count_changes": Self.counts]).check(life.histories)
        let (ada, bob) = (life.ada.lowercased, life.bob.lowercased)
        let counts = Set(try #require(state["event_count_changes"]).map { $0.split(separator: " ").first.map(String.init)! + " " + $0.split(separator: " ").last! })
        #expect(counts.isSuperset(of: ["signup_completed 2", "onboarding_completed 2", "subscription_started 2", "lesson_started 4", "module_completed 3", "course_completed 1"]))
        let events = try state.rows("events")
        // Bob's events are counted, detached from him, whether they came before his deletion or after.
        #expect(events.filter { $0["user_id"] is NSNull }.compactMap { $0["event"] as? String }.sorted() == ["lesson_started", "onboarding_completed", "signup_completed", "subscription_started", "video_1_started"])
        #expect(!state["events"]!.contains { $0.contains("\"user_id\": \"\(bob)\"") })
        // Ada onboarded once, at her first profile that said so.
        let onboarded = events.filter { $0["event"] as? String == "onboarding_completed" && $0["user_id"] as? String == ada }
        #expect(onboarded.count == 1 && onboarded.first?["created_at"] as? String == "2030-03-17T17:48:40+00:00")
    }
}
