import Database
import Foundation
import ServiceTesting
import Testing

@testable import Webhooks

/// Webhooks's handlers, fed the platform's events out of order and some twice, end as in order.
@Suite struct ShuffledDeliveryTests {
    @Test func anyOrderEndsAsTheOrderOfProduction() async throws {
        let life = try PlatformHistories()
        let state = try await ShuffledDeliveries(handlers: WebhooksHandlers.all, migrations: WebhooksMigrations.all, setup: { try $0.execute("INSERT INTO endpoints (id, url, event_types) VALUES (gen_random_uuid(), 'https://hooks.example.com/in', '[\"*\"]')") }).check(life.histories)
        let (ada, bob) = (life.ada.lowercased, life.bob.lowercased)
        // Every public event is queued for the endpoint, but of Bob's own events only his deletion.
        let events = try state.rows("events")
        let bobs = events.filter { $0["aggregate"] as? String == bob }
        #expect(bobs.map { $0["routing_key"] as? String } == ["identity.user.deleted.v1"])
        #expect(events.contains { $0["aggregate"] as? String == ada && $0["routing_key"] as? String == "identity.user.registered.v1" })
        #expect(events.contains { $0["aggregate"] as? String == "course" })
        #expect(state["deliveries"]?.count == events.count)
    }
}
