import Foundation

/// `progress.lesson.started.v1`: a learner opened a lesson (every start; `firstTime` for the first).
public struct ProgressLessonStartedV1: DomainEvent {
    public static let eventType = EventType(producer: .progress, name: "lesson.started", majorVersion: 1)
    public var userId: String
    public var lessonId: String
    public var moduleId: String
    public var isFree: Bool
    public var firstTime: Bool
    public var startedAt: Date

    public init(userId: String, lessonId: String, moduleId: String, isFree: Bool, firstTime: Bool, startedAt: Date) {
        self.userId = userId
        self.lessonId = lessonId
        self.moduleId = moduleId
        self.isFree = isFree
        self.firstTime = firstTime
        self.startedAt = startedAt
    }

    public var subject: String { userId }
}

/// `progress.lesson.completed.v1`: a learner completed a lesson (not repeated for a second call).
public struct ProgressLessonCompletedV1: DomainEvent {
    public static let eventType = EventType(producer: .progress, name: "lesson.completed", majorVersion: 1)
    public var userId: String
    public var lessonId: String
    public var moduleId: String
    public var isFree: Bool
    public var completedAt: Date

    public init(userId: String, lessonId: String, moduleId: String, isFree: Bool, completedAt: Date) {
        self.userId = userId
        self.lessonId = lessonId
        self.moduleId = moduleId
        self.isFree = isFree
        self.completedAt = completedAt
    }

    public var subject: String { userId }
}

/// `progress.lesson.uncompleted.v1`: a learner undid a lesson's completion.
public struct ProgressLessonUncompletedV1: DomainEvent {
    public static let eventType = EventType(producer: .progress, name: "lesson.uncompleted", majorVersion: 1)
    public var userId: String
    public var lessonId: String
    public var moduleId: String
    public var isFree: Bool
    public var uncompletedAt: Date

    public init(userId: String, lessonId: String, moduleId: String, isFree: Bool, uncompletedAt: Date) {
        self.userId = userId
        self.lessonId = lessonId
        self.moduleId = moduleId
        self.isFree = isFree
        self.uncompletedAt = uncompletedAt
    }

    public var subject: String { userId }
}

/// `progress.module.completed.v1`: every published lesson of a module is completed by the learner.
/// `sequence` is the version of the (learner, module) state: keep the newest of completed/reopened.
public struct ProgressModuleCompletedV1: DomainEvent {
    public static let eventType = EventType(producer: .progress, name: "module.completed", majorVersion: 1)
    public var userId: String
    public var moduleId: String
    /// The first time this learner completed this module (celebrate only then).
    public var firstTime: Bool
    /// The module this completion unlocks, if any.
    public var nextModuleId: String?
    public var completedAt: Date

    public init(userId: String, moduleId: String, firstTime: Bool, nextModuleId: String?, completedAt: Date) {
        self.userId = userId
        self.moduleId = moduleId
        self.firstTime = firstTime
        self.nextModuleId = nextModuleId
        self.completedAt = completedAt
    }

    public var subject: String { userId }
    public var aggregateID: String { "\(userId)/\(moduleId)" }
}

/// `progress.module.reopened.v1`: a completed module is no longer complete.
public struct ProgressModuleReopenedV1: DomainEvent {
    public static let eventType = EventType(producer: .progress, name: "module.reopened", majorVersion: 1)
    public var userId: String
    public var moduleId: String
    /// `lesson_uncompleted` or `outline_changed` (a lesson was published into it).
    public var reason: String
    public var reopenedAt: Date

    public init(userId: String, moduleId: String, reason: String, reopenedAt: Date) {
        self.userId = userId
        self.moduleId = moduleId
        self.reason = reason
        self.reopenedAt = reopenedAt
    }

    public var subject: String { userId }
    public var aggregateID: String { "\(userId)/\(moduleId)" }
}

/// `progress.course.completed.v1`: every published module is complete for the learner.
public struct ProgressCourseCompletedV1: DomainEvent {
    public static let eventType = EventType(producer: .progress, name: "course.completed", majorVersion: 1)
    public var userId: String
    public var firstTime: Bool
    public var completedAt: Date

    public init(userId: String, firstTime: Bool, completedAt: Date) {
        self.userId = userId
        self.firstTime = firstTime
        self.completedAt = completedAt
    }

    public var subject: String { userId }
}

/// `progress.course.reopened.v1`: a completed course is no longer complete.
public struct ProgressCourseReopenedV1: DomainEvent {
    public static let eventType = EventType(producer: .progress, name: "course.reopened", majorVersion: 1)
    public var userId: String
    /// `lesson_uncompleted` or `outline_changed`.
    public var reason: String
    public var reopenedAt: Date

    public init(userId: String, reason: String, reopenedAt: Date) {
        self.userId = userId
        self.reason = reason
        self.reopenedAt = reopenedAt
    }

    public var subject: String { userId }
}

/// `progress.task.status_changed.v1`: a learner moved a learning-plan task to another status
/// (not repeated when the status does not change).
public struct ProgressTaskStatusChangedV1: DomainEvent {
    public static let eventType = EventType(producer: .progress, name: "task.status_changed", majorVersion: 1)
    public var userId: String
    public var planId: String
    public var taskId: String
    /// not_started, in_progress or completed.
    public var status: String
    public var previousStatus: String
    /// Completed tasks' share of the plan's estimated minutes, after the change (0–100).
    public var planPercent: Int
    public var changedAt: Date

    public init(userId: String, planId: String, taskId: String, status: String, previousStatus: String, planPercent: Int, changedAt: Date) {
        self.userId = userId
        self.planId = planId
        self.taskId = taskId
        self.status = status
        self.previousStatus = previousStatus
        self.planPercent = planPercent
        self.changedAt = changedAt
    }

    public var subject: String { planId }
}

/// `progress.plan.completed.v1`: every task of a learner's plan is completed (published when the
/// last one is; again only if the plan was reopened in between).
public struct ProgressPlanCompletedV1: DomainEvent {
    public static let eventType = EventType(producer: .progress, name: "plan.completed", majorVersion: 1)
    public var userId: String
    public var planId: String
    public var taskCount: Int
    public var completedAt: Date

    public init(userId: String, planId: String, taskCount: Int, completedAt: Date) {
        self.userId = userId
        self.planId = planId
        self.taskCount = taskCount
        self.completedAt = completedAt
    }

    public var subject: String { planId }
}
