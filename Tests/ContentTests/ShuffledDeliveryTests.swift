import Database
import Foundation
import ServiceTesting
import Testing

@testable import Content

/// Content's handlers (with the learning plans feature's), fed the platform's events out of order and some twice, end as in order.
@Suite struct ShuffledDeliveryTests {
    @Test func anyOrderEndsAsTheOrderOfProduction() async throws {
        let life = try PlatformHistories()
        let state = try await ShuffledDeliveries(handlers: ContentHandlers.all, migrations: ContentMigrations.all).check(life.histories)
        let ada = life.ada.lowercased
        // The plans feature keeps Ada's newest time zone; the course keeps her newest state of each module.
        let profiles = try state.rows("learner_profiles")
        #expect(profiles.count == 1 && profiles.first?["user_id"] as? String == ada && profiles.first?["time_zone"] as? String == "America/New_York")
        let modules = try state.rows("module_completions")
        #expect(modules.first { $0["module_id"] as? String == life.modules.first.lowercased }?["completed"] as? Bool == true)
        #expect(modules.first { $0["module_id"] as? String == life.modules.second.lowercased }?["completed"] as? Bool == false)
        #expect(try state.rows("entitlements").first?["has_access"] as? Bool == false)
    }
}
