import Contracts
import Database
import Foundation
import ServiceKit

/// Learning plans in the `content` schema, under row-level security: a learner's requests work in
/// their own scope; the generation worker in the system scope.
public struct PlanStore: Sendable {
    public static let channel = "plan_jobs"
    /// Signalled (payload: the plan id) whenever a plan's generation moves.
    public static let progressChannel = "plan_progress"

    let database: DatabasePool
    /// The most the provider may cost a UTC day, in cents; nil is no ceiling.
    let dailySpendCeilingCents: Int?

    public init(database: DatabasePool, dailySpendCeilingCents: Int? = nil) {
        self.database = database
        self.dailySpendCeilingCents = dailySpendCeilingCents
    }

    // MARK: Shapes

    public struct Resource: Codable, Sendable, Equatable {
        public var order: Int
        public var type: String
        public var title: String
        public var url: String
        public var notes: String?
    }

    public struct Task: Codable, Sendable, Equatable {
        public var id: String
        public var order: Int
        public var title: String
        public var description: String
        public var estimatedMinutes: Int
        public var resources: [Resource]
    }

    public struct Module: Codable, Sendable, Equatable {
        public var id: String
        public var order: Int
        public var title: String
        public var description: String
        public var estimatedMinutes: Int
        public var tasks: [Task]
    }

    public struct Plan: Codable, Sendable, Equatable {
        public var id: String
        public var topic: String
        public var skillLevel: String
        public var weeklyHours: Int
        public var learningStyle: String
        public var notes: String?
        public var startDate: String?
        public var deadlineDate: String?
        /// generating, ready or failed.
        public var generationStatus: String
        public var archived: Bool
        public var createdAt: Date
        public var modules: [Module]?
    }

    static func plan(_ row: Row, modules: [Module]?) throws -> Plan {
        Plan(
            id: try row.decode("id", as: UUID.self).lowercased, topic: try row.decode("topic"), skillLevel: try row.decode("skill_level"),
            weeklyHours: try row.decode("weekly_hours"), learningStyle: try row.decode("learning_style"), notes: try row.decode("notes", as: String?.self),
            startDate: try row.decode("start_date", as: String?.self), deadlineDate: try row.decode("deadline_date", as: String?.self),
            generationStatus: try row.decode("generation_status"), archived: try row.decode("archived_at", as: Date?.self) != nil,
            createdAt: try row.decode("created_at"), modules: modules)
    }

    static let planColumns = "id, topic, skill_level, weekly_hours, learning_style, notes, start_date::text AS start_date, deadline_date::text AS deadline_date, generation_status, archived_at, created_at"

    // MARK: Learner

    /// Creates a plan and queues its generation, within the tier's active plans and monthly
    /// generations and the day's spend ceiling. The learner's usage row for the month is locked
    /// first, so parallel requests are counted one after the other and cannot pass a limit together.
    public func create(_ request: PlanRequest, by user: UUID, now: Date) async throws -> Plan {
        try await database.transaction(asLearner: user) { connection in
            let usage = try Self.lockUsage(user, now: now, on: connection)
            try Self.requireQuota(.activePlans, of: user, usage: usage, on: connection)
            try Self.requireQuota(.generations, of: user, usage: usage, on: connection)
            try Self.requireCapacity(ceilingCents: self.dailySpendCeilingCents, now: now, on: connection)
            let id = UUIDv7.make()
            let row = try connection.query(
                """
                INSERT INTO learning_plans (id, user_id, topic, skill_level, weekly_hours, learning_style, notes, start_date, deadline_date)
                VALUES (\(id), \(user), \(request.topic), \(request.skillLevel.rawValue), \(request.weeklyHours), \(request.learningStyle.rawValue),
                        \(request.notes), \(request.startDate)::date, \(request.deadlineDate)::date)
                RETURNING \(unsafeRaw: Self.planColumns)
                """
            ).first!
            try connection.execute(
                "UPDATE usage_metrics SET plans_created = plans_created + 1, generations = generations + 1 WHERE user_id = \(user) AND month = \(usage.month)::date")
            try Self.queue(id, of: user, type: "plan_generation", priority: 0, now: now, on: connection)
            return try Self.plan(row, modules: nil)
        }
    }

    /// A learner's use of the month so far.
    struct Usage: Sendable {
        /// YYYY-MM-01, in UTC.
        var month: String
        var generations: Int
        var regenerations: Int
        var exports: Int
    }

    /// The learner's usage row for the month of `now`, created if needed and locked (an upsert
    /// locks the row it touches), in one statement.
    static func lockUsage(_ user: UUID, now: Date, on connection: PostgresConnection) throws -> Usage {
        let row = try connection.query(
            """
            INSERT INTO usage_metrics (user_id, month) VALUES (\(user), date_trunc('month', \(now)::timestamptz AT TIME ZONE 'UTC')::date)
            ON CONFLICT (user_id, month) DO UPDATE SET user_id = excluded.user_id
            RETURNING to_char(month, 'YYYY-MM-DD') AS month, generations, regenerations, exports
            """
        ).first!
        return Usage(
            month: try row.decode("month"), generations: try row.decode("generations"), regenerations: try row.decode("regenerations"),
            exports: try row.decode("exports"))
    }

    /// Refuses (`quota_exceeded`) when the learner's tier allows no more of `quota`: the tier and
    /// the count are loaded here, the decision is `PlanLimits.refusal`. The caller holds the
    /// month's usage row, locked by `lockUsage`, so the count cannot race.
    static func requireQuota(_ quota: PlanQuota, of user: UUID, usage: Usage, on connection: PostgresConnection) throws {
        let limits = PlanLimits.of(tier: try Entitlements.of(user, on: connection).plan)
        guard limits.limit(of: quota) != nil else { return }
        let used =
            switch quota {
            case .activePlans:
                try connection.query("SELECT count(*) AS n FROM learning_plans WHERE user_id = \(user) AND archived_at IS NULL").first!.decode("n", as: Int.self)
            case .generations: usage.generations
            case .regenerations: usage.regenerations
            case .exports: usage.exports
            }
        if let refusal = limits.refusal(quota, used: used) { throw refusal }
    }

    /// What the provider has cost on the UTC day of `now`, in cents, across learners.
    static func spentToday(now: Date, on connection: PostgresConnection) throws -> Int {
        try connection.query(
            "SELECT cost_cents FROM provider_spend WHERE day = (\(now)::timestamptz AT TIME ZONE 'UTC')::date"
        ).first?.decode("cost_cents", as: Int.self) ?? 0
    }

    /// Refuses (`generation_capacity`, until the next UTC day) once the day's spend has reached
    /// the ceiling.
    static func requireCapacity(ceilingCents: Int?, now: Date, on connection: PostgresConnection) throws {
        guard let ceilingCents else { return }
        if let refusal = SpendCeiling.refusal(spentCents: try spentToday(now: now, on: connection), ceilingCents: ceilingCents, now: now) { throw refusal }
    }

    /// Adds a generation's cost to the day's spend (one row a day, added to atomically).
    static func recordSpend(_ cents: Int, now: Date, on connection: PostgresConnection) throws {
        try connection.execute(
            """
            INSERT INTO provider_spend (day, cost_cents, generations) VALUES ((\(now)::timestamptz AT TIME ZONE 'UTC')::date, \(cents), 1)
            ON CONFLICT (day) DO UPDATE SET cost_cents = provider_spend.cost_cents + excluded.cost_cents,
                generations = provider_spend.generations + 1, updated_at = now()
            """)
    }

    public func list(of user: UUID) async throws -> [Plan] {
        try await database.transaction(asLearner: user) { connection in
            // No user filter: row-level security shows the learner's own plans only.
            try connection.query(Query(sql: "SELECT \(Self.planColumns) FROM learning_plans ORDER BY created_at DESC")).map { try Self.plan($0, modules: nil) }
        }
    }

    /// The plan with its modules, tasks and resources: four queries in one round trip.
    public func plan(_ id: UUID, of user: UUID) async throws -> Plan {
        try Self.plan(from: try await database.read(asLearner: user, Self.planQueries(id)))
    }

    static func plan(_ id: UUID, on connection: PostgresConnection) throws -> Plan {
        try plan(from: try planQueries(id).map { try connection.query($0) })
    }

    /// The plan's row, its resources, tasks and modules (independent of each other).
    ///
    /// Each table is read once, filtered by the ids of its parents gathered beforehand (an
    /// `ARRAY(…)` subquery runs once), never joined: a nested loop the planner picks on statistics
    /// taken when the tables were small would read a table once per parent row, and a plan grown
    /// to 1,000 tasks took 140 ms to read until the next ANALYZE.
    static func planQueries(_ id: UUID) -> [Query] {
        [
            Query(sql: "SELECT \(Self.planColumns) FROM learning_plans WHERE id = $1", binds: [id.lowercased]),
            """
            SELECT * FROM task_resources WHERE task_id = ANY(ARRAY(
                SELECT id FROM plan_tasks WHERE module_id = ANY(ARRAY(SELECT id FROM plan_modules WHERE plan_id = \(id)))))
            ORDER BY task_id, position
            """,
            """
            SELECT * FROM plan_tasks WHERE module_id = ANY(ARRAY(SELECT id FROM plan_modules WHERE plan_id = \(id)))
            ORDER BY module_id, position
            """,
            "SELECT * FROM plan_modules WHERE plan_id = \(id) ORDER BY position",
        ]
    }

    static func plan(from rows: [[Row]]) throws -> Plan {
        guard let row = rows[0].first else { throw DomainError.notFound("plan") }
        let resources = try Dictionary(grouping: rows[1]) { try $0.decode("task_id", as: UUID.self) }
        let tasks = try Dictionary(grouping: rows[2]) { try $0.decode("module_id", as: UUID.self) }
        let modules = try rows[3].map { row in
            let moduleID: UUID = try row.decode("id")
            return Module(
                id: moduleID.lowercased, order: try row.decode("position"), title: try row.decode("title"), description: try row.decode("description"),
                estimatedMinutes: try row.decode("estimated_minutes"),
                tasks: try (tasks[moduleID] ?? []).map { task in
                    let taskID: UUID = try task.decode("id")
                    return Task(
                        id: taskID.lowercased, order: try task.decode("position"), title: try task.decode("title"), description: try task.decode("description"),
                        estimatedMinutes: try task.decode("estimated_minutes"),
                        resources: try (resources[taskID] ?? []).map {
                            Resource(order: try $0.decode("position"), type: try $0.decode("type"), title: try $0.decode("title"), url: try $0.decode("url"), notes: try $0.decode("notes", as: String?.self))
                        })
                })
        }
        return try plan(row, modules: modules)
    }

    public func delete(_ id: UUID, of user: UUID, now: Date) async throws {
        try await database.transaction(asLearner: user) { connection in
            guard let row = try connection.query("DELETE FROM learning_plans WHERE id = \(id) RETURNING version").first else { throw DomainError.notFound("plan") }
            let version = try row.decode("version", as: Int64.self) + 1
            try Outbox.enqueue(CloudEvent(ContentPlanDeletedV1(planId: id.lowercased, userId: user.lowercased, deletedAt: now), sequence: version), on: connection)
        }
    }

    /// Archives a plan: it stays readable and stops counting as active.
    public func archive(_ id: UUID, of user: UUID, now: Date) async throws -> Plan {
        try await database.transaction(asLearner: user) { connection in
            guard try connection.execute("UPDATE learning_plans SET archived_at = coalesce(archived_at, \(now)), updated_at = now() WHERE id = \(id)").affectedRows == 1 else {
                throw DomainError.notFound("plan")
            }
            return try Self.plan(id, on: connection)
        }
    }

    /// Queues a failed plan's generation (or regeneration) again: one more generation of the
    /// month, within the spend ceiling.
    public func retry(_ id: UUID, of user: UUID, now: Date) async throws -> Plan {
        try await database.transaction(asLearner: user) { connection in
            let usage = try Self.lockUsage(user, now: now, on: connection)
            guard let row = try connection.query("SELECT generation_status FROM learning_plans WHERE id = \(id) FOR UPDATE").first else { throw DomainError.notFound("plan") }
            if let refusal = PlanTransitions.retryRefusal(status: try row.decode("generation_status")) { throw refusal }
            try Self.requireQuota(.generations, of: user, usage: usage, on: connection)
            try Self.requireCapacity(ceilingCents: self.dailySpendCeilingCents, now: now, on: connection)
            try connection.execute("UPDATE usage_metrics SET generations = generations + 1 WHERE user_id = \(user) AND month = \(usage.month)::date")
            let type = try connection.query("SELECT type FROM job_queue WHERE plan_id = \(id) ORDER BY created_at DESC LIMIT 1").first?.decode("type", as: String.self)
            try Self.queue(id, of: user, type: type ?? "plan_generation", now: now, on: connection)
            return try Self.plan(id, on: connection)
        }
    }

    /// What a regeneration may change of the plan's request; the rest stays as it was.
    public struct Changes: Sendable, Equatable {
        public var skillLevel: PlanRequest.SkillLevel?
        public var weeklyHours: Int?
        public var learningStyle: PlanRequest.LearningStyle?
        public var notes: String?

        public init(skillLevel: PlanRequest.SkillLevel? = nil, weeklyHours: Int? = nil, learningStyle: PlanRequest.LearningStyle? = nil, notes: String? = nil) {
            self.skillLevel = skillLevel
            self.weeklyHours = weeklyHours
            self.learningStyle = learningStyle
            self.notes = notes
        }
    }

    /// Generates a ready (or failed) plan again, with any changes to its request, within the
    /// tier's monthly regenerations and generations and the spend ceiling. The plan keeps its current modules and tasks until the new
    /// ones replace them.
    public func regenerate(_ id: UUID, with changes: Changes, by user: UUID, now: Date) async throws -> Plan {
        try await database.transaction(asLearner: user) { connection in
            let usage = try Self.lockUsage(user, now: now, on: connection)
            guard let row = try connection.query("SELECT generation_status, archived_at FROM learning_plans WHERE id = \(id) FOR UPDATE").first else {
                throw DomainError.notFound("plan")
            }
            if let refusal = PlanTransitions.regenerationRefusal(
                status: try row.decode("generation_status"), archived: try row.decode("archived_at", as: Date?.self) != nil)
            {
                throw refusal
            }
            try Self.requireQuota(.regenerations, of: user, usage: usage, on: connection)
            try Self.requireQuota(.generations, of: user, usage: usage, on: connection)
            try Self.requireCapacity(ceilingCents: self.dailySpendCeilingCents, now: now, on: connection)
            try connection.execute(
                """
                UPDATE learning_plans SET skill_level = coalesce(\(changes.skillLevel?.rawValue), skill_level),
                    weekly_hours = coalesce(\(changes.weeklyHours), weekly_hours), learning_style = coalesce(\(changes.learningStyle?.rawValue), learning_style),
                    notes = coalesce(\(changes.notes), notes)
                WHERE id = \(id)
                """)
            try connection.execute(
                "UPDATE usage_metrics SET regenerations = regenerations + 1, generations = generations + 1 WHERE user_id = \(user) AND month = \(usage.month)::date")
            try Self.queue(id, of: user, type: "plan_regeneration", now: now, on: connection)
            return try Self.plan(id, on: connection)
        }
    }

    /// Marks the plan generating and queues its job, waking a worker. A learner's second try
    /// (a retry or a regeneration) goes before first generations.
    static func queue(_ id: UUID, of user: UUID, type: String, priority: Int = 1, now: Date, on connection: PostgresConnection) throws {
        try connection.execute("UPDATE learning_plans SET generation_status = 'generating', updated_at = now() WHERE id = \(id) AND generation_status <> 'generating'")
        try connection.execute(
            "INSERT INTO job_queue (id, user_id, plan_id, type, scheduled_for, priority) VALUES (\(UUIDv7.make()), \(user), \(id), \(type), \(now), \(priority))")
        try connection.execute("SELECT pg_notify(\(Self.channel), '')")
    }

    public struct Attempt: Codable, Sendable, Equatable {
        public var attempt: Int
        public var outcome: String
        public var classification: String?
        public var message: String?
        public var durationMs: Int
        public var provider: String
        public var model: String
        public var costCents: Int
        public var createdAt: Date
    }

    /// Raises the plan's version — the `sequence` of every event about it — (and sets its
    /// generation status, if given), and sends `event` with that sequence.
    static func announce(_ plan: UUID, status: String? = nil, _ event: some DomainEvent, on connection: PostgresConnection) throws {
        guard let row = try connection.query(
            """
            UPDATE learning_plans SET version = version + 1, generation_status = coalesce(\(status), generation_status), updated_at = now()
            WHERE id = \(plan) RETURNING version
            """
        ).first else { throw DomainError.notFound("plan") }
        try Outbox.enqueue(CloudEvent(event, sequence: try row.decode("version", as: Int64.self)), on: connection)
    }

    /// Answers 404 unless the plan is the learner's (row-level security hides any other).
    static func requirePlan(_ id: UUID, on connection: PostgresConnection) throws {
        guard try !connection.query("SELECT 1 FROM learning_plans WHERE id = \(id)").isEmpty else { throw DomainError.notFound("plan") }
    }

    /// Forgets a deleted learner: their plans (their jobs and attempts cascade), their usage,
    /// profile and connections. Runs in the system scope, which the connection keeps afterwards.
    public static func forget(_ user: UUID, on connection: PostgresConnection) throws {
        try RowSecurity.enterSystem(on: connection)
        try connection.execute("DELETE FROM learning_plans WHERE user_id = \(user)")
        try connection.execute("DELETE FROM usage_metrics WHERE user_id = \(user)")
        try connection.execute("DELETE FROM ai_usage_events WHERE user_id = \(user)")
        try connection.execute("DELETE FROM learner_profiles WHERE user_id = \(user)")
        try connection.execute("DELETE FROM integration_tokens WHERE user_id = \(user)")
    }

    /// The plan's generation status, for a stream that waits on it.
    public func status(of id: UUID, for user: UUID) async throws -> String {
        try await database.transaction(asLearner: user) { connection in
            guard let row = try connection.query("SELECT generation_status FROM learning_plans WHERE id = \(id)").first else { throw DomainError.notFound("plan") }
            return try row.decode("generation_status")
        }
    }

    public func attempts(_ id: UUID, of user: UUID) async throws -> [Attempt] {
        try await database.transaction(asLearner: user) { connection in
            try Self.requirePlan(id, on: connection)
            return try connection.query("SELECT * FROM generation_attempts WHERE plan_id = \(id) ORDER BY created_at, attempt").map {
                Attempt(
                    attempt: try $0.decode("attempt"), outcome: try $0.decode("outcome"), classification: try $0.decode("classification", as: String?.self),
                    message: try $0.decode("message", as: String?.self), durationMs: try $0.decode("duration_ms"), provider: try $0.decode("provider"),
                    model: try $0.decode("model"), costCents: try $0.decode("cost_cents"), createdAt: try $0.decode("created_at"))
            }
        }
    }
}
