import Database
import Foundation
import ServiceTesting
import TestSupport
import Testing

@testable import Identity

/// Identity's handlers, fed the platform's events out of order and some twice, end as in order.
@Suite struct ShuffledDeliveryTests {
    /// What subscribers end up holding of each user's marketing choice: the newest profile
    /// identity published, or the registration's (no opt-out) when it published none. How many
    /// changes it took (the user's version) depends on the order and is not compared.
    static let choiceSubscribersHold: ShuffledDeliveries.View = { connection in
        try connection.query(
            """
            SELECT u.id, coalesce(p.opt_out, 'false') AS opt_out FROM users u
            LEFT JOIN (SELECT DISTINCT ON (aggregate_id) aggregate_id, body::jsonb -> 'data' ->> 'marketingOptOut' AS opt_out
                       FROM outbox WHERE routing_key = 'identity.user.profile_updated.v1' ORDER BY aggregate_id, sequence DESC) p
              ON p.aggregate_id = u.id::text
            """
        ).map { "\(try $0.decode("id", as: UUID.self)) marketingOptOut=\(try $0.decode("opt_out", as: String.self))" }
    }

    @Test func anyOrderEndsAsTheOrderOfProduction() async throws {
        let life = try PlatformHistories()
        // The handler works on the consumer's connection only; the repository's own pool stays idle.
        let idle = DatabasePool(url: try StackProfile.test.value("ADMIN_DATABASE_URL"), size: 1, name: "idle", logger: TestEnvironment.logger)
        defer { idle.shutdown() }
        let users = UserRepository(database: idle)
        let ada = life.ada
        let state = try await ShuffledDeliveries(
            handlers: IdentityHandlers.all(users: users), migrations: IdentityMigrations.all, volatile: ["users": ["version", "updated_at"]],
            views: ["outbox": Self.choiceSubscribersHold],
            setup: { try $0.execute("INSERT INTO users (id, email, name, version) VALUES (\(ada), 'ada@example.com', 'Ada', 2)") }
        ).check(life.histories)
        #expect(state["outbox"] == ["\(ada) marketingOptOut=false"])
        let rows = try state.rows("users")
        #expect(rows.count == 1 && rows.first?["marketing_opt_out"] as? Bool == false)
    }
}
