import Database
import Foundation
import ServiceKit
import ServiceTesting
import Testing
import TestSupport

@testable import Billing

/// A Stripe event's payload goes after the retention; the event's record stays, so a redelivery
/// is still recognised as a duplicate.
@Suite struct StripeEventRetentionTests {
    @Test func oldPayloadsAreEmptiedAndTheirEventsStillKnown() async throws {
        try await withMigratedSchema(BillingMigrations.all) { pool, _ in
            let now = Date()
            for (id, age) in [("evt_old", 100.0), ("evt_new", 10.0)] {
                try await pool.execute(
                    """
                    INSERT INTO stripe_events (id, type, created, livemode, outcome, received_at, payload)
                    VALUES (\(id), 'customer.subscription.updated', 1, false, 'applied', \(now.addingTimeInterval(-age * 86_400)),
                        '{"data": {"object": {"customer_email": "person@example.com"}}}')
                    """)
            }
            let store = BillingStore(database: pool, catalogue: .default, canRefresh: false, logger: TestEnvironment.logger)
            #expect(try await store.forgetPayloads(receivedBefore: now.addingTimeInterval(-90 * 86_400)) == 1)
            let rows = try await pool.query("SELECT id, payload::text AS payload FROM stripe_events ORDER BY id").map {
                (try $0.decode("id", as: String.self), try $0.decode("payload", as: String.self))
            }
            #expect(rows.map(\.0) == ["evt_new", "evt_old"])
            #expect(rows[0].1.contains("person@example.com") && rows[1].1 == "{}")
            // The old event, delivered again, is a duplicate still.
            let redelivered = try StripeEvent(json: .object([
                "id": .string("evt_old"), "type": .string("customer.subscription.updated"), "created": .number(1), "livemode": .bool(false),
                "data": .object(["object": .object([:])]),
            ]))
            #expect(try await store.process(redelivered, payload: "{}", now: now) == .duplicate)
        }
    }
}
