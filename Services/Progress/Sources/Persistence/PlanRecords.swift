import Contracts
import Database
import Foundation
import ServiceKit

/// Loads and saves the learning-plan tasks progress keeps (from content's plan events) and the
/// learner's status of each.
enum PlanRecords {
    /// Keeps the plan's owner and version (the version outlives a deletion, in
    /// `aggregate_versions`, so an older event arriving later does not bring a plan back).
    static func saveVersion(_ version: Int64, of plan: UUID, owner user: UUID, on connection: PostgresConnection) throws {
        try connection.execute(
            """
            INSERT INTO plan_versions (plan_id, user_id, version) VALUES (\(plan), \(user), \(version))
            ON CONFLICT (plan_id) DO UPDATE SET version = excluded.version
            """)
    }

    /// Replaces the plan's tasks with `modules`' (progress on tasks no longer in it goes with them).
    static func replaceTasks(of plan: UUID, owner user: UUID, with modules: [PlanModuleOutline], on connection: PostgresConnection) throws {
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
    }

    static func delete(_ plan: UUID, on connection: PostgresConnection) throws {
        try connection.execute("DELETE FROM plan_versions WHERE plan_id = \(plan)")
    }

    static func exists(_ plan: UUID, on connection: PostgresConnection) throws -> Bool {
        try !connection.query("SELECT 1 FROM plan_versions WHERE plan_id = \(plan)").isEmpty
    }

    /// The plan of a task the learner can see, locked, with whether it is recorded complete.
    static func lockPlan(ofTask task: UUID, on connection: PostgresConnection) throws -> (plan: UUID, completed: Bool)? {
        guard let row = try connection.query(
            "SELECT v.plan_id, v.completed FROM plan_tasks t JOIN plan_versions v USING (plan_id) WHERE t.task_id = \(task) FOR UPDATE OF v"
        ).first else { return nil }
        return (try row.decode("plan_id"), try row.decode("completed"))
    }

    static func status(of task: UUID, on connection: PostgresConnection) throws -> TaskStatus {
        try connection.query("SELECT status FROM task_progress WHERE task_id = \(task)").first
            .flatMap { TaskStatus(rawValue: try $0.decode("status", as: String.self)) } ?? .notStarted
    }

    static func saveStatus(_ status: TaskStatus, of task: UUID, by user: UUID, on connection: PostgresConnection) throws {
        try connection.execute(
            """
            INSERT INTO task_progress (user_id, task_id, status) VALUES (\(user), \(task), \(status.rawValue))
            ON CONFLICT (user_id, task_id) DO UPDATE SET status = excluded.status, updated_at = now()
            """)
    }

    static func saveCompleted(_ completed: Bool, plan: UUID, on connection: PostgresConnection) throws {
        try connection.execute("UPDATE plan_versions SET completed = \(completed) WHERE plan_id = \(plan)")
    }

    /// The plan's tasks in plan order, each with the learner's status.
    static func tasks(of plan: UUID, on connection: PostgresConnection) throws -> [PlanSummary.Task] {
        try connection.query(
            """
            SELECT t.module_id, t.module_order, t.estimated_minutes, coalesce(p.status, 'not_started') AS status
            FROM plan_tasks t LEFT JOIN task_progress p ON p.task_id = t.task_id
            WHERE t.plan_id = \(plan) ORDER BY t.module_order, t.task_order
            """
        ).map { row in
            PlanSummary.Task(
                moduleID: try row.decode("module_id"), moduleOrder: try row.decode("module_order"),
                estimatedMinutes: try row.decode("estimated_minutes"),
                status: TaskStatus(rawValue: try row.decode("status", as: String.self)) ?? .notStarted)
        }
    }

    /// The next number of an event about the plan (its row is locked by the caller).
    static func nextEventSequence(of plan: UUID, on connection: PostgresConnection) throws -> Int64 {
        try connection.query(
            "UPDATE plan_versions SET event_sequence = event_sequence + 1 WHERE plan_id = \(plan) RETURNING event_sequence"
        ).first!.decode("event_sequence", as: Int64.self)
    }
}
