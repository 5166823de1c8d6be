import CourseRules
import Foundation

/// A whole-number percentage, rounded down; nothing of nothing is 0.
func percentage(_ done: Int, of total: Int) -> Int { total == 0 ? 0 : done * 100 / total }

/// A learner's progress through the course, as `GET /v1/progress` answers it.
public struct ProgressSummary: Codable, Sendable, Equatable {
    public struct Module: Codable, Sendable, Equatable {
        public var moduleId: String
        public var title: String
        public var order: Int
        public var lessonsCompleted: Int
        public var lessonsTotal: Int
        public var percent: Int
        public var completed: Bool
        public var unlocked: Bool
    }

    public struct NextLesson: Codable, Sendable, Equatable {
        public var lessonId: String
        public var moduleId: String
        public var title: String
        public var unlocked: Bool
        public var lockReason: LessonLock?
    }

    public var lessonsCompleted: Int
    public var lessonsTotal: Int
    public var percent: Int
    public var courseCompleted: Bool
    public var modules: [Module]
    /// The first lesson, in course order, not yet completed (none once the course is done).
    public var nextLesson: NextLesson?

    /// The summary of a learner who has done `done` lessons and has `completedModules` recorded
    /// complete; which modules are unlocked and what the next lesson is follow the course's
    /// gating rule.
    init(outline: Outline, done: Set<UUID>, completedModules: Set<UUID>, hasAccess: Bool, courseCompleted: Bool) {
        let unlocked = CourseAccess.unlockedModules(inOrder: outline.moduleOrder, completed: Set(completedModules.map(\.lowercased)))
        modules = outline.modules.enumerated().map { index, module in
            let lessons = outline.lessons(of: module.id)
            let completedCount = lessons.filter { done.contains($0.id) }.count
            return Module(
                moduleId: module.id.lowercased, title: module.title, order: index + 1, lessonsCompleted: completedCount,
                lessonsTotal: lessons.count, percent: percentage(completedCount, of: lessons.count),
                completed: completedModules.contains(module.id), unlocked: unlocked.contains(module.id.lowercased))
        }
        nextLesson = outline.lessons.first { !done.contains($0.id) }.map { lesson in
            let lock = CourseAccess.lock(isFree: lesson.isFree, hasAccess: hasAccess, moduleUnlocked: unlocked.contains(lesson.moduleID.lowercased))
            return NextLesson(
                lessonId: lesson.id.lowercased, moduleId: lesson.moduleID.lowercased, title: lesson.title, unlocked: lock == nil, lockReason: lock)
        }
        lessonsCompleted = outline.lessons.filter { done.contains($0.id) }.count
        lessonsTotal = outline.lessons.count
        percent = percentage(lessonsCompleted, of: lessonsTotal)
        self.courseCompleted = courseCompleted
    }
}

/// Where a learner is with one task of a learning plan.
public enum TaskStatus: String, Codable, Sendable, CaseIterable {
    case notStarted = "not_started", inProgress = "in_progress", completed
}

/// A learner's progress through one learning plan, as `GET /v1/progress/plans/{id}` answers it.
public struct PlanSummary: Codable, Sendable, Equatable {
    public struct Module: Codable, Sendable, Equatable {
        public var moduleId: String
        public var order: Int
        public var completedTasks: Int
        public var totalTasks: Int
        public var percent: Int
    }

    /// One task of the plan, in plan order, with its status.
    struct Task: Sendable, Equatable {
        var moduleID: UUID
        var moduleOrder: Int
        var estimatedMinutes: Int
        var status: TaskStatus
    }

    public var planId: String
    public var completedTasks: Int
    public var inProgressTasks: Int
    public var totalTasks: Int
    /// Completed tasks' share of the plan's estimated minutes (of its tasks when none has an
    /// estimate).
    public var percent: Int
    /// Every task done; a plan without tasks is not complete.
    public var completed: Bool
    public var modules: [Module]

    init(plan: UUID, tasks: [Task]) {
        var modules: [Module] = []
        var minutes = 0, doneMinutes = 0, completed = 0, inProgress = 0
        for task in tasks {
            if modules.last?.moduleId != task.moduleID.lowercased {
                modules.append(Module(moduleId: task.moduleID.lowercased, order: task.moduleOrder, completedTasks: 0, totalTasks: 0, percent: 0))
            }
            modules[modules.count - 1].totalTasks += 1
            minutes += task.estimatedMinutes
            switch task.status {
            case .completed:
                modules[modules.count - 1].completedTasks += 1
                completed += 1
                doneMinutes += task.estimatedMinutes
            case .inProgress:
                inProgress += 1
            case .notStarted:
                break
            }
        }
        for index in modules.indices {
            modules[index].percent = percentage(modules[index].completedTasks, of: modules[index].totalTasks)
        }
        planId = plan.lowercased
        completedTasks = completed
        inProgressTasks = inProgress
        totalTasks = tasks.count
        percent = minutes == 0 ? percentage(completed, of: tasks.count) : doneMinutes * 100 / minutes
        self.completed = !tasks.isEmpty && completed == tasks.count
        self.modules = modules
    }
}
