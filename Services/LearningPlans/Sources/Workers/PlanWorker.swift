import Contracts
import Database
import Foundation
import Logging
import ServiceKit

/// Drains the generation queue. A job is claimed with `FOR UPDATE SKIP LOCKED` (so workers on
/// several replicas share the queue), generated outside any transaction, then stored — modules,
/// tasks, resources, the attempt and the event — in one. A failure is recorded and, if it may
/// succeed later, retried after min(60, 2^attempt) s, up to 3 attempts; then the plan fails.
/// A job left `processing` by a worker that died is taken again after `staleAfter`. Once the
/// provider has cost the day's ceiling, jobs wait (still pending) for the next UTC day.
public struct PlanWorker: Sendable {
    let database: DatabasePool
    let generator: any PlanGenerator
    let logger: Logger
    /// The most the provider may cost a UTC day, in cents; nil is no ceiling.
    let dailySpendCeilingCents: Int?
    static let staleAfter: TimeInterval = 300

    public init(database: DatabasePool, generator: any PlanGenerator, dailySpendCeilingCents: Int? = nil, logger: Logger) {
        self.database = database
        self.generator = generator
        self.dailySpendCeilingCents = dailySpendCeilingCents
        self.logger = logger
    }

    /// The worker on the drain loop: woken by `plan_jobs` (listened to on `listenURL`) when a
    /// job is queued, and each idle second for jobs whose backoff has passed.
    public func draining(listenURL: String) -> DrainingWorker {
        DrainingWorker("plans", channel: PlanStore.channel, listenURL: listenURL, logger: logger) { [self] in
            try await processNext(now: Date()) != nil
        }
    }

    struct Job: Sendable {
        var id: UUID
        var plan: UUID
        var user: UUID
        /// plan_generation or plan_regeneration.
        var type: String
        var attempt: Int
        var maxAttempts: Int
        var request: PlanRequest
    }

    /// Claims the next due job, if any — none while the day's spend is at the ceiling.
    func claim(now: Date) async throws -> Job? {
        try await database.transaction { connection in
            try RowSecurity.enterSystem(on: connection)
            if let ceiling = self.dailySpendCeilingCents, try !SpendCeiling.allows(spentCents: PlanStore.spentToday(now: now, on: connection), ceilingCents: ceiling) {
                return nil
            }
            guard let row = try connection.query(
                """
                SELECT j.id, j.plan_id, j.user_id, j.type, j.attempts, j.max_attempts, p.topic, p.skill_level, p.weekly_hours, p.learning_style, p.notes,
                       p.start_date::text AS start_date, p.deadline_date::text AS deadline_date
                FROM job_queue j JOIN learning_plans p ON p.id = j.plan_id
                WHERE (j.status = 'pending' AND j.scheduled_for <= \(now))
                   OR (j.status = 'processing' AND j.updated_at < \(now.addingTimeInterval(-Self.staleAfter)))
                ORDER BY j.priority DESC, j.scheduled_for
                LIMIT 1
                FOR UPDATE OF j SKIP LOCKED
                """
            ).first else { return nil }
            let id: UUID = try row.decode("id")
            let attempt = try row.decode("attempts", as: Int.self) + 1
            try connection.execute("UPDATE job_queue SET status = 'processing', attempts = \(attempt), updated_at = \(now) WHERE id = \(id)")
            return Job(
                id: id, plan: try row.decode("plan_id"), user: try row.decode("user_id"), type: try row.decode("type"), attempt: attempt, maxAttempts: try row.decode("max_attempts"),
                request: PlanRequest(
                    topic: try row.decode("topic"), skillLevel: PlanRequest.SkillLevel(rawValue: try row.decode("skill_level")) ?? .beginner,
                    weeklyHours: try row.decode("weekly_hours"), learningStyle: PlanRequest.LearningStyle(rawValue: try row.decode("learning_style")) ?? .mixed,
                    notes: try row.decode("notes", as: String?.self), startDate: try row.decode("start_date", as: String?.self),
                    deadlineDate: try row.decode("deadline_date", as: String?.self)))
        }
    }

    /// Runs one due job; returns its plan's status afterwards, or nil when nothing was due.
    @discardableResult
    public func processNext(now: Date) async throws -> String? {
        guard let job = try await claim(now: now) else { return nil }
        let started = ContinuousClock.now
        let result: Result<(GeneratedPlan, GenerationUsage), GenerationFailure>
        do {
            // A job taken back after its last attempt (its workers died, or storing kept failing)
            // fails instead of calling the provider again and again.
            guard job.attempt <= job.maxAttempts else {
                throw GenerationFailure.providerError("no worker finished the job in \(job.maxAttempts) attempts")
            }
            let (plan, usage) = try await generator.generate(job.request)
            result = .success((try plan.validated(), usage))
        } catch let failure as GenerationFailure {
            result = .failure(failure)
        } catch {
            result = .failure(.providerError("\(error)"))
        }
        let durationMs = (ContinuousClock.now - started).milliseconds
        return try await database.transaction { connection in
            try RowSecurity.enterSystem(on: connection)
            // A job taken back from this worker (thought dead) belongs to the other one now.
            guard try !connection.query(
                "SELECT 1 FROM job_queue WHERE id = \(job.id) AND status = 'processing' AND attempts = \(job.attempt) FOR UPDATE"
            ).isEmpty else {
                return try connection.query("SELECT generation_status FROM learning_plans WHERE id = \(job.plan)").first?.decode("generation_status", as: String.self)
            }
            try connection.execute("SELECT pg_notify(\(PlanStore.progressChannel), \(job.plan.lowercased))")
            switch result {
            case .success(let (plan, usage)):
                try Self.store(plan, job: job, usage: usage, durationMs: durationMs, now: now, on: connection)
                return "ready"
            case .failure(let failure):
                try connection.execute(
                    """
                    INSERT INTO generation_attempts (id, plan_id, user_id, attempt, outcome, classification, message, duration_ms, provider, model)
                    VALUES (\(UUIDv7.make()), \(job.plan), \(job.user), \(job.attempt), 'failure', \(failure.classification), \(String(failure.message.prefix(500))),
                            \(durationMs), \(self.generator.provider), \(self.generator.model))
                    """)
                if failure.retryable, job.attempt < job.maxAttempts {
                    let retryAt = now.addingTimeInterval(GenerationBackoff.delay(afterAttempt: job.attempt))
                    try connection.execute(
                        "UPDATE job_queue SET status = 'pending', scheduled_for = \(retryAt), last_error = \(failure.message), updated_at = \(now) WHERE id = \(job.id)")
                    return "generating"
                }
                try connection.execute("UPDATE job_queue SET status = 'failed', last_error = \(failure.message), updated_at = \(now) WHERE id = \(job.id)")
                try PlanStore.announce(
                    job.plan, status: "failed",
                    ContentPlanGenerationFailedV1(
                        planId: job.plan.lowercased, userId: job.user.lowercased, classification: failure.classification, attempts: job.attempt, failedAt: now),
                    on: connection)
                return "failed"
            }
        }
    }

    /// Stores a generated plan in place of what the plan held, and announces it. A regenerated
    /// task with the title of a task it replaces keeps that task's id, so progress on it survives;
    /// progress on the others is dropped with them.
    static func store(_ plan: GeneratedPlan, job: Job, usage: GenerationUsage, durationMs: Int, now: Date, on connection: PostgresConnection) throws {
        var previous: [String: [UUID]] = [:]
        for row in try connection.query(
            "SELECT t.id, t.title FROM plan_tasks t JOIN plan_modules m ON m.id = t.module_id WHERE m.plan_id = \(job.plan) ORDER BY m.position, t.position")
        {
            previous[Self.matchKey(try row.decode("title")), default: []].append(try row.decode("id"))
        }
        try connection.execute("DELETE FROM plan_modules WHERE plan_id = \(job.plan)")
        var outline: [PlanModuleOutline] = []
        for (moduleIndex, module) in plan.modules.enumerated() {
            let moduleID = UUIDv7.make()
            try connection.execute(
                """
                INSERT INTO plan_modules (id, plan_id, user_id, title, description, position, estimated_minutes)
                VALUES (\(moduleID), \(job.plan), \(job.user), \(module.title), \(module.description), \(moduleIndex + 1), \(module.estimatedMinutes))
                """)
            var tasks: [PlanTaskOutline] = []
            for (taskIndex, task) in module.tasks.enumerated() {
                let taskID = previous[Self.matchKey(task.title)]?.isEmpty == false ? previous[Self.matchKey(task.title)]!.removeFirst() : UUIDv7.make()
                try connection.execute(
                    """
                    INSERT INTO plan_tasks (id, module_id, user_id, title, description, position, estimated_minutes)
                    VALUES (\(taskID), \(moduleID), \(job.user), \(task.title), \(task.description), \(taskIndex + 1), \(task.estimatedMinutes))
                    """)
                for (resourceIndex, resource) in task.resources.enumerated() {
                    try connection.execute(
                        """
                        INSERT INTO task_resources (task_id, user_id, position, type, title, url, notes)
                        VALUES (\(taskID), \(job.user), \(resourceIndex + 1), \(resource.type), \(resource.title), \(resource.url), \(resource.notes))
                        """)
                }
                tasks.append(PlanTaskOutline(id: taskID.lowercased, order: taskIndex + 1, title: task.title, estimatedMinutes: task.estimatedMinutes))
            }
            outline.append(PlanModuleOutline(id: moduleID.lowercased, order: moduleIndex + 1, title: module.title, estimatedMinutes: module.estimatedMinutes, tasks: tasks))
        }
        try connection.execute(
            """
            INSERT INTO generation_attempts (id, plan_id, user_id, attempt, outcome, duration_ms, provider, model, prompt_tokens, completion_tokens, cost_cents)
            VALUES (\(UUIDv7.make()), \(job.plan), \(job.user), \(job.attempt), 'success', \(durationMs), \(usage.provider), \(usage.model),
                    \(usage.promptTokens), \(usage.completionTokens), \(usage.costCents))
            """)
        try connection.execute(
            """
            INSERT INTO ai_usage_events (id, user_id, plan_id, provider, model, prompt_tokens, completion_tokens, cost_cents)
            VALUES (\(UUIDv7.make()), \(job.user), \(job.plan), \(usage.provider), \(usage.model), \(usage.promptTokens), \(usage.completionTokens), \(usage.costCents))
            """)
        try PlanStore.recordSpend(usage.costCents, now: now, on: connection)
        try connection.execute("UPDATE job_queue SET status = 'completed', last_error = NULL, updated_at = \(now) WHERE id = \(job.id)")
        if job.type == "plan_regeneration" {
            try PlanStore.announce(
                job.plan, status: "ready", ContentPlanRegeneratedV1(planId: job.plan.lowercased, userId: job.user.lowercased, modules: outline, regeneratedAt: now),
                on: connection)
        } else {
            try PlanStore.announce(
                job.plan, status: "ready", ContentPlanGeneratedV1(planId: job.plan.lowercased, userId: job.user.lowercased, modules: outline, generatedAt: now),
                on: connection)
        }
    }

    /// Two tasks are the same task when their titles are, ignoring case and surrounding space.
    static func matchKey(_ title: String) -> String { title.trimmingCharacters(in: .whitespacesAndNewlines).lowercased() }
}
