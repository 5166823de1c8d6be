import Database
import Foundation
import ServiceTesting
import Testing

@testable import Progress

/// Progress's handlers, fed the platform's events out of order and some twice, end as in order.
@Suite struct ShuffledDeliveryTests {
    @Test func anyOrderEndsAsTheOrderOfProduction() async throws {
        let life = try PlatformHistories()
        let state = try await ShuffledDeliveries(handlers: ProgressHandlers.all, migrations: ProgressMigrations.all).check(life.histories)
        // The newest outline, the kept plan at its regenerated version, the deleted plan gone.
        #expect(state["outline_lessons"]?.count == 4 && state["outline_state"] == ["{\"version\": 2, \"singleton\": true}"])
        let plans = try state.rows("plan_versions")
        #expect(plans.count == 1 && plans.first?["plan_id"] as? String == life.plans.kept.lowercased && plans.first?["version"] as? Int == 2)
        #expect(state["plan_tasks"]?.count == 6)
        #expect(!(state["plan_tasks"] ?? []).contains { $0.contains(life.plans.deleted.lowercased) })
    }
}
