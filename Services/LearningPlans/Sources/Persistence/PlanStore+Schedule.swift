import Contracts
import Crypto
import Database
import Foundation
import ServiceKit

/// Schedules, and the secret iCalendar feed that calendar apps subscribe to.
extension PlanStore {
    /// Keeps the learner's time zone from identity's profile events (newest by sequence).
    static func applyProfile(_ event: CloudEvent<IdentityUserProfileUpdatedV1>, on connection: PostgresConnection) throws {
        guard let user = UUID(uuidString: event.data.userId) else { throw ConsumeFailure.undecodable("userId is not a UUID") }
        try RowSecurity.enterSystem(on: connection)
        if try Tombstones.isDeleted(user, on: connection) { return }
        try connection.execute(
            """
            INSERT INTO learner_profiles (user_id, time_zone, version) VALUES (\(user), \(event.data.timeZone), \(event.sequenceNumber))
            ON CONFLICT (user_id) DO UPDATE SET time_zone = excluded.time_zone, version = excluded.version
            WHERE learner_profiles.version < excluded.version
            """)
    }

    /// The learner's time zone, or UTC when they have not set one.
    static func timeZone(of user: UUID, on connection: PostgresConnection) throws -> TimeZone {
        let name = try connection.query("SELECT time_zone FROM learner_profiles WHERE user_id = \(user)").first?.decode("time_zone", as: String?.self)
        return name.flatMap(TimeZone.init(identifier:)) ?? TimeZone(identifier: "UTC")!
    }

    /// The plan's schedule in the learner's time zone, within the deadline and the tier's weeks.
    static func schedule(_ id: UUID, of user: UUID, on connection: PostgresConnection) throws -> (PlanSchedule, topic: String) {
        guard let row = try connection.query(
            """
            SELECT topic, weekly_hours, start_date::text AS start_date, deadline_date::text AS deadline_date, created_at
            FROM learning_plans WHERE id = \(id)
            """
        ).first else { throw DomainError.notFound("plan") }
        let zone = try timeZone(of: user, on: connection)
        let tasks = try connection.query(
            """
            SELECT t.id, t.module_id, t.title, t.estimated_minutes FROM plan_tasks t JOIN plan_modules m ON m.id = t.module_id
            WHERE m.plan_id = \(id) ORDER BY m.position, t.position
            """
        ).map {
            PlanSchedule.Task(
                id: try $0.decode("id", as: UUID.self).lowercased, moduleId: try $0.decode("module_id", as: UUID.self).lowercased,
                title: try $0.decode("title"), estimatedMinutes: try $0.decode("estimated_minutes"))
        }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let start = try row.decode("start_date", as: String?.self) ?? PlanSchedule.format(try row.decode("created_at", as: Date.self), in: calendar)
        let schedule = PlanSchedule.make(
            planId: id.lowercased, tasks: tasks, weeklyHours: try row.decode("weekly_hours"), startDate: start,
            deadlineDate: try row.decode("deadline_date", as: String?.self), tierMaxWeeks: PlanLimits.of(tier: try Entitlements.of(user, on: connection).plan).maxWeeks,
            timeZone: zone)
        return (schedule, try row.decode("topic"))
    }

    public func schedule(_ id: UUID, of user: UUID) async throws -> PlanSchedule {
        try await database.transaction(asLearner: user) { connection in try Self.schedule(id, of: user, on: connection).0 }
    }

    static func hash(_ token: String) -> Data { Data(SHA256.hash(data: Data(token.utf8))) }

    /// A new secret feed token for the plan, replacing (so revoking) any earlier one. Only its
    /// hash is stored; the token is shown once.
    public func createFeed(_ id: UUID, of user: UUID) async throws -> String {
        let token = Base64URL.encode(SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) })
        try await database.transaction(asLearner: user) { connection in
            try Self.requirePlan(id, on: connection)
            try connection.execute(
                """
                INSERT INTO calendar_feeds (token_hash, plan_id, user_id) VALUES (\(Self.hash(token)), \(id), \(user))
                ON CONFLICT (plan_id) DO UPDATE SET token_hash = excluded.token_hash, created_at = now(), last_fetched_at = NULL
                """)
        }
        return token
    }

    /// Revokes the plan's feed: its URL stops working at once.
    public func revokeFeed(_ id: UUID, of user: UUID) async throws {
        try await database.transaction(asLearner: user) { connection in
            try Self.requirePlan(id, on: connection)
            guard try connection.execute("DELETE FROM calendar_feeds WHERE plan_id = \(id)").affectedRows == 1 else { throw DomainError.notFound("calendar feed") }
        }
    }

    /// The iCalendar text behind a feed token, or nil for a token that is not (or no longer)
    /// valid. Only finding the token needs the system scope; the schedule is then read as its
    /// learner, like any of their requests.
    public func feed(token: String, now: Date) async throws -> String? {
        guard (20...100).contains(token.count) else { return nil }
        return try await database.transaction { connection in
            try RowSecurity.enterSystem(on: connection)
            guard let row = try connection.query(
                "UPDATE calendar_feeds SET last_fetched_at = \(now) WHERE token_hash = \(Self.hash(token)) RETURNING plan_id, user_id"
            ).first else { return nil }
            let user: UUID = try row.decode("user_id")
            try RowSecurity.enterLearner(user, on: connection)
            let (schedule, topic) = try Self.schedule(try row.decode("plan_id"), of: user, on: connection)
            return schedule.iCalendar(name: topic, stamp: now)
        }
    }
}
