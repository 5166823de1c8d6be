import Database
import Foundation
import ServiceTesting
import Testing

@testable import Billing

/// Billing's handlers, fed the platform's events out of order and some twice, end as in order.
@Suite struct ShuffledDeliveryTests {
    /// What subscribers end up holding of each user's access: the newest entitlement billing
    /// published, or none (a user billing never spoke of has no access). How many changes it took
    /// to get there (the entitlement's version) depends on the order and is not compared.
    static let accessSubscribersHold: ShuffledDeliveries.View = { connection in
        try connection.query(
            """
            SELECT DISTINCT ON (aggregate_id) aggregate_id, body::jsonb -> 'data' ->> 'hasAccess' AS access, body::jsonb -> 'data' ->> 'tier' AS tier
            FROM outbox WHERE routing_key = 'billing.entitlement.changed.v1' ORDER BY aggregate_id, sequence DESC
            """
        ).compactMap { row -> String? in
            let (user, access, tier) = (try row.decode("aggregate_id", as: String.self), try row.decode("access", as: String.self), try row.decode("tier", as: String.self))
            return access == "false" && tier == "free" ? nil : "\(user) access=\(access) tier=\(tier)"
        }
    }

    @Test func anyOrderEndsAsTheOrderOfProduction() async throws {
        let life = try PlatformHistories()
        let state = try await ShuffledDeliveries(handlers: BillingHandlers.all, migrations: BillingMigrations.all, volatile: ["entitlements": ["version"]], views: ["outbox": Self.accessSubscribersHold]).check(life.histories)
        let (ada, bob) = (life.ada.lowercased, life.bob.lowercased)
        // Ada's override was given and withdrawn: she ends without access, and so does every subscriber's copy.
        let entitlements = try state.rows("entitlements")
        #expect(entitlements.count == 1)
        #expect(entitlements.first?["user_id"] as? String == ada && entitlements.first?["has_access"] as? Bool == false)
        #expect(entitlements.first?["access_override"] as? Bool == false)
        #expect(state["outbox"] == [])
        #expect(state["aggregate_versions"]?.contains { $0.contains("\"sequence\": 7") && $0.contains(ada) } == true)
        #expect(state["user_tombstones"]?.contains { $0.contains(bob) } == true)
    }
}
