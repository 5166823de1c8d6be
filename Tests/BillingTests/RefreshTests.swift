import Database
import Foundation
import ServiceKit
import Testing
import TestSupport

@testable import Billing

/// Two events about a subscription within one second cannot be ordered, so billing reads the
/// subscription back from Stripe; that read must not undo an event that arrived after it.
@Suite struct RefreshTests {
    static func event(_ id: String, created: Int64, status: String) throws -> StripeEvent {
        try StripeEvent(json: .object([
            "id": .string(id), "type": .string("customer.subscription.updated"), "created": .number(Double(created)), "livemode": .bool(false),
            "data": .object(["object": subscription(status: status)]),
        ]))
    }

    static func subscription(status: String) -> JSONValue {
        .object([
            "id": .string("sub_refresh"), "customer": .string("cus_refresh"), "status": .string(status),
            "items": .object(["data": .array([.object(["price": .object(["id": .string("price_pro_monthly")])])])]),
        ])
    }

    func status(_ pool: DatabasePool) async throws -> (status: String, refreshing: Bool) {
        let row = try #require(try await pool.query("SELECT status, refresh_requested_at IS NOT NULL AS refreshing FROM subscriptions").first)
        return (try row.decode("status"), try row.decode("refreshing"))
    }

    @Test func aReadBackAppliesOnlyIfNoNewerEventCameSinceItWasAsked() async throws {
        try await withTemporarySchema { pool, schema in
            _ = try await Migrator(schema: schema, migrations: BillingMigrations.all).migrate(pool, logger: TestEnvironment.logger)
            let store = BillingStore(database: pool, catalogue: .default, canRefresh: true, logger: TestEnvironment.logger)
            _ = try await store.process(try Self.event("evt_1", created: 1000, status: "active"), payload: "{}", now: Date())
            _ = try await store.process(try Self.event("evt_2", created: 1000, status: "past_due"), payload: "{}", now: Date())
            let due = try #require(try await store.refreshesDue().first)
            #expect(try await status(pool).refreshing)

            // A newer event lands between listing and applying: the older snapshot is not applied.
            _ = try await store.process(try Self.event("evt_3", created: 1005, status: "canceled"), payload: "{}", now: Date())
            try await store.applyRefreshed(Self.subscription(status: "active"), asOf: due, now: Date())
            #expect(try await status(pool) == ("CANCELED", true))

            // Listed again, the read-back applies and the request is settled.
            let again = try #require(try await store.refreshesDue().first)
            try await store.applyRefreshed(Self.subscription(status: "canceled"), asOf: again, now: Date())
            #expect(try await status(pool) == ("CANCELED", false))
        }
    }
}
