import Contracts
import Database
import Foundation
import ServiceKit

/// Progress on learning-plan tasks: `not_started | in_progress | completed` per task, and the
/// plan's completion derived from it.
extension ProgressStore {
    public enum TaskStatus: String, Codable, Sendable, CaseIterable {
        case notStarted = "not_started", inProgress = "in_progress", completed
    }

    /// A plan's tasks as content generated (or regenerated) them, newest version winning;
    /// progress on tasks no longer in the plan is dropped with them.
    static func applyPlan(planID: String, userID: String, modules: [PlanModuleOutline], version: Int64, on connection: PostgresConnection) throws {
        try RowSecurity.enterSystem(on: connection)
        guard let plan = UUID(uuidString: planID), let user = UUID(uuidString: userID) else {
            throw ConsumeFailure.undecodable("planId or userId")
        }
        if try Tombstones.isDeleted(user, on: connection) { return }
        // The version is kept apart from the plan's rows, so it outlives a deletion: an older
        // event arriving after `content.plan.deleted.v1` does not bring the plan back.
        guard try AggregateVersions.advance("plan", id: plan.lowercased, to: version, on: connection) else { return }
        try connection.execute(
            """
            INSERT INTO plan_versions (plan_id, user_id, version) VALUES (\(plan), \(user), \(version))
            ON CONFLICT (plan_id) DO UPDATE SET version = excluded.version
            """)
        let tasks = modules.flatMap { module in module.tasks.map { (module, $0) } }
        let ids = try tasks.map { _, task -> UUID in
            guard let id = UUID(uuidString: task.id) else { throw ConsumeFailure.undecodable("task id") }
            return id
        }
        try connection.execute("DELETE FROM plan_tasks WHERE plan_id = \(plan) AND NOT (task_id = ANY(\(array: ids)))")
        for ((module, task), id) in zip(tasks, ids) {
            guard let moduleID = UUID(uuidString: module.id) else { throw ConsumeFailure.undecodable("module id") }
            try connection.execute(
                """
                INSERT INTO plan_tasks (task_id, plan_id, user_id, module_id, module_order, task_order, estimated_minutes)
                VALUES (\(id), \(plan), \(user), \(moduleID), \(module.order), \(task.order), \(task.estimatedMinutes))
                ON CONFLICT (task_id) DO UPDATE SET module_id = excluded.module_id, module_order = excluded.module_order,
                    task_order = excluded.task_order, estimated_minutes = excluded.estimated_minutes
                """)
        }
        // Whether the new version is complete is recorded, not announced: nobody completed it.
        let complete = try planSummary(plan, on: connection).completed
        try connection.execute("UPDATE plan_versions SET completed = \(complete) WHERE plan_id = \(plan)")
    }

    static func forgetPlan(_ event: CloudEvent<ContentPlanDeletedV1>, on connection: PostgresConnection) throws {
        try RowSecurity.enterSystem(on: connection)
        guard let plan = UUID(uuidString: event.data.planId) else { throw ConsumeFailure.undecodable("planId") }
        guard try AggregateVersions.advance("plan", id: plan.lowercased, to: event.sequenceNumber, on: connection) else { return }
        try connection.execute("DELETE FROM plan_versions WHERE plan_id = \(plan)")
    }

    public struct TaskAnswer: Codable, Sendable, Equatable {
        public var taskId: String
        public var planId: String
        public var status: TaskStatus
        public var planPercent: Int
    }

    /// Sets a task's status (the learner's own tasks only: another's answers 404). A change is
    /// announced, and so is the plan's completion when this completes it. The plan's row is
    /// locked first, so two last tasks completed at once announce the completion once.
    public func setTask(_ taskID: UUID, to status: TaskStatus, by user: UUID, now: Date = Date()) async throws -> TaskAnswer {
        try await asLearner(user) { connection in
            guard let state = try connection.query(
                "SELECT v.plan_id, v.completed FROM plan_tasks t JOIN plan_versions v USING (plan_id) WHERE t.task_id = \(taskID) FOR UPDATE OF v"
            ).first else { throw DomainError.notFound("task") }
            let plan: UUID = try state.decode("plan_id")
            let previous = try connection.query("SELECT status FROM task_progress WHERE task_id = \(taskID)").first?.decode("status", as: String.self) ?? TaskStatus.notStarted.rawValue
            try connection.execute(
                """
                INSERT INTO task_progress (user_id, task_id, status) VALUES (\(user), \(taskID), \(status.rawValue))
                ON CONFLICT (user_id, task_id) DO UPDATE SET status = excluded.status, updated_at = now()
                """)
            let summary = try Self.planSummary(plan, on: connection)
            if previous != status.rawValue {
                try Self.publish(
                    ProgressTaskStatusChangedV1(
                        userId: user.lowercased, planId: plan.lowercased, taskId: taskID.lowercased, status: status.rawValue, previousStatus: previous,
                        planPercent: summary.percent, changedAt: now),
                    aboutPlan: plan, on: connection)
            }
            let wasComplete: Bool = try state.decode("completed")
            if summary.completed != wasComplete {
                try connection.execute("UPDATE plan_versions SET completed = \(summary.completed) WHERE plan_id = \(plan)")
                if summary.completed {
                    try Self.publish(
                        ProgressPlanCompletedV1(userId: user.lowercased, planId: plan.lowercased, taskCount: summary.totalTasks, completedAt: now),
                        aboutPlan: plan, on: connection)
                }
            }
            return TaskAnswer(taskId: taskID.lowercased, planId: plan.lowercased, status: status, planPercent: summary.percent)
        }
    }

    /// Publishes an event about a plan, numbered after every earlier one about it (the plan's
    /// row is locked by the caller).
    static func publish<E: DomainEvent>(_ event: E, aboutPlan plan: UUID, on connection: PostgresConnection) throws {
        let sequence = try connection.query(
            "UPDATE plan_versions SET event_sequence = event_sequence + 1 WHERE plan_id = \(plan) RETURNING event_sequence"
        ).first!.decode("event_sequence", as: Int64.self)
        try Outbox.enqueue(CloudEvent(event, sequence: sequence), on: connection)
    }

    public struct PlanModuleSummary: Codable, Sendable, Equatable {
        public var moduleId: String
        public var order: Int
        public var completedTasks: Int
        public var totalTasks: Int
        public var percent: Int
    }

    public struct PlanSummary: Codable, Sendable, Equatable {
        public var planId: String
        public var completedTasks: Int
        public var inProgressTasks: Int
        public var totalTasks: Int
        /// Completed tasks' share of the plan's estimated minutes.
        public var percent: Int
        public var completed: Bool
        public var modules: [PlanModuleSummary]
    }

    public func plan(_ planID: UUID, of user: UUID) async throws -> PlanSummary {
        try await asLearner(user) { connection in
            guard try !connection.query("SELECT 1 FROM plan_versions WHERE plan_id = \(planID)").isEmpty else { throw DomainError.notFound("plan") }
            return try Self.planSummary(planID, on: connection)
        }
    }

    static func planSummary(_ plan: UUID, on connection: PostgresConnection) throws -> PlanSummary {
        let rows = try connection.query(
            """
            SELECT t.module_id, t.module_order, t.estimated_minutes, coalesce(p.status, 'not_started') AS status
            FROM plan_tasks t LEFT JOIN task_progress p ON p.task_id = t.task_id
            WHERE t.plan_id = \(plan) ORDER BY t.module_order, t.task_order
            """)
        var modules: [PlanModuleSummary] = []
        var minutes = 0, doneMinutes = 0, completed = 0, inProgress = 0
        for row in rows {
            let module: UUID = try row.decode("module_id")
            let status: String = try row.decode("status")
            let estimate: Int = try row.decode("estimated_minutes")
            if modules.last?.moduleId != module.lowercased {
                modules.append(PlanModuleSummary(moduleId: module.lowercased, order: try row.decode("module_order"), completedTasks: 0, totalTasks: 0, percent: 0))
            }
            modules[modules.count - 1].totalTasks += 1
            minutes += estimate
            if status == "completed" {
                modules[modules.count - 1].completedTasks += 1
                completed += 1
                doneMinutes += estimate
            } else if status == "in_progress" {
                inProgress += 1
            }
        }
        for index in modules.indices { modules[index].percent = percent(modules[index].completedTasks, of: modules[index].totalTasks) }
        return PlanSummary(
            planId: plan.lowercased, completedTasks: completed, inProgressTasks: inProgress, totalTasks: rows.count,
            percent: minutes == 0 ? percent(completed, of: rows.count) : doneMinutes * 100 / minutes, completed: !rows.isEmpty && completed == rows.count,
            modules: modules)
    }
}
