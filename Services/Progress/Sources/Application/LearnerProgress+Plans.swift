import Contracts
import Database
import Foundation
import ServiceKit

/// Progress on learning-plan tasks: `not_started | in_progress | completed` per task, and the
/// plan's completion derived from it.
extension LearnerProgress {
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
        try PlanRecords.saveVersion(version, of: plan, owner: user, on: connection)
        try PlanRecords.replaceTasks(of: plan, owner: user, with: modules, on: connection)
        // Whether the new version is complete is recorded, not announced: nobody completed it.
        let summary = PlanSummary(plan: plan, tasks: try PlanRecords.tasks(of: plan, on: connection))
        try PlanRecords.saveCompleted(summary.completed, plan: plan, on: connection)
    }

    static func forgetPlan(_ event: CloudEvent<ContentPlanDeletedV1>, on connection: PostgresConnection) throws {
        try RowSecurity.enterSystem(on: connection)
        guard let plan = UUID(uuidString: event.data.planId) else { throw ConsumeFailure.undecodable("planId") }
        guard try AggregateVersions.advance("plan", id: plan.lowercased, to: event.sequenceNumber, on: connection) else { return }
        try PlanRecords.delete(plan, on: connection)
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
            guard let (plan, wasComplete) = try PlanRecords.lockPlan(ofTask: taskID, on: connection) else { throw DomainError.notFound("task") }
            let previous = try PlanRecords.status(of: taskID, on: connection)
            try PlanRecords.saveStatus(status, of: taskID, by: user, on: connection)
            let summary = PlanSummary(plan: plan, tasks: try PlanRecords.tasks(of: plan, on: connection))
            if previous != status {
                try Self.publish(
                    ProgressTaskStatusChangedV1(
                        userId: user.lowercased, planId: plan.lowercased, taskId: taskID.lowercased, status: status.rawValue,
                        previousStatus: previous.rawValue, planPercent: summary.percent, changedAt: now),
                    aboutPlan: plan, on: connection)
            }
            if summary.completed != wasComplete {
                try PlanRecords.saveCompleted(summary.completed, plan: plan, on: connection)
                if summary.completed {
                    try Self.publish(
                        ProgressPlanCompletedV1(userId: user.lowercased, planId: plan.lowercased, taskCount: summary.totalTasks, completedAt: now),
                        aboutPlan: plan, on: connection)
                }
            }
            return TaskAnswer(taskId: taskID.lowercased, planId: plan.lowercased, status: status, planPercent: summary.percent)
        }
    }

    /// Publishes an event about a plan, numbered after every earlier one about it.
    static func publish<E: DomainEvent>(_ event: E, aboutPlan plan: UUID, on connection: PostgresConnection) throws {
        try Outbox.enqueue(CloudEvent(event, sequence: try PlanRecords.nextEventSequence(of: plan, on: connection)), on: connection)
    }

    public func plan(_ planID: UUID, of user: UUID) async throws -> PlanSummary {
        try await asLearner(user) { connection in
            guard try PlanRecords.exists(planID, on: connection) else { throw DomainError.notFound("plan") }
            return PlanSummary(plan: planID, tasks: try PlanRecords.tasks(of: planID, on: connection))
        }
    }
}
