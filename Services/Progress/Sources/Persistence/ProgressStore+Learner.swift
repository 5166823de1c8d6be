import Contracts
import CourseRules
import Database
import Foundation
import ServiceKit

/// What a learner does: start, complete and undo lessons, and read their summary.
extension ProgressStore {
    public struct CompletionAnswer: Codable, Sendable, Equatable {
        public var lessonId: String
        public var lessonCompleted: Bool
        public var moduleCompleted: Bool
        public var courseCompleted: Bool
        public var moduleId: String
        /// The module the lesson's completed module unlocks, while it is complete.
        public var nextModuleId: String?
    }

    public struct StartAnswer: Codable, Sendable, Equatable {
        public var lessonId: String
        public var moduleId: String
        public var firstTime: Bool
        public var startedAt: Date
    }

    /// The lesson, if published and open to the learner; else 404, or 403 with the reason.
    static func openLesson(_ id: UUID, of user: UUID, outline: Outline, on connection: PostgresConnection) throws -> Lesson {
        guard let lesson = outline.lessons.first(where: { $0.id == id }) else { throw DomainError.notFound("lesson") }
        let entitlement = try Entitlements.of(user, on: connection)
        let completed = Set(try connection.query("SELECT module_id FROM module_progress WHERE user_id = \(user) AND completed").map {
            try $0.decode("module_id", as: UUID.self).lowercased
        })
        let unlocked = CourseAccess.unlockedModules(inOrder: outline.moduleOrder, completed: completed)
        if let lock = CourseAccess.lock(isFree: lesson.isFree, hasAccess: entitlement.hasAccess, moduleUnlocked: unlocked.contains(lesson.moduleID.lowercased)) {
            throw DomainError(
                .forbidden, code: lock.rawValue,
                title: lock == .subscriptionRequired ? "This lesson needs a subscription" : "This lesson's module is locked")
        }
        return lesson
    }

    public func start(_ lessonID: UUID, by user: UUID, now: Date) async throws -> StartAnswer {
        try await changing(user) { connection, outline in
            let lesson = try Self.openLesson(lessonID, of: user, outline: outline, on: connection)
            let row = try connection.query(
                """
                WITH previous AS (SELECT started_at FROM lesson_progress WHERE user_id = \(user) AND lesson_id = \(lessonID))
                INSERT INTO lesson_progress (user_id, lesson_id, module_id, is_free, started_at, last_started_at)
                VALUES (\(user), \(lessonID), \(lesson.moduleID), \(lesson.isFree), \(now), \(now))
                ON CONFLICT (user_id, lesson_id) DO UPDATE SET started_at = coalesce(lesson_progress.started_at, excluded.started_at),
                    last_started_at = excluded.last_started_at, module_id = excluded.module_id, is_free = excluded.is_free
                RETURNING (SELECT started_at FROM previous) IS NULL AS first_time
                """
            ).first!
            let firstTime: Bool = try row.decode("first_time")
            let event = ProgressLessonStartedV1(
                userId: user.lowercased, lessonId: lessonID.lowercased, moduleId: lesson.moduleID.lowercased, isFree: lesson.isFree,
                firstTime: firstTime, startedAt: now)
            try Self.publish(event, about: user, on: connection)
            return StartAnswer(lessonId: lessonID.lowercased, moduleId: lesson.moduleID.lowercased, firstTime: firstTime, startedAt: now)
        }
    }

    /// Marks a lesson complete; a second call changes nothing and answers the same.
    public func complete(_ lessonID: UUID, by user: UUID, now: Date) async throws -> CompletionAnswer {
        try await changing(user) { connection, outline in
            let lesson = try Self.openLesson(lessonID, of: user, outline: outline, on: connection)
            let newly = try connection.query(
                """
                INSERT INTO lesson_progress (user_id, lesson_id, module_id, is_free, completed_at)
                VALUES (\(user), \(lessonID), \(lesson.moduleID), \(lesson.isFree), \(now))
                ON CONFLICT (user_id, lesson_id) DO UPDATE SET completed_at = excluded.completed_at, module_id = excluded.module_id,
                    is_free = excluded.is_free
                WHERE lesson_progress.completed_at IS NULL
                RETURNING lesson_id
                """
            ).first
            if newly != nil {
                let event = ProgressLessonCompletedV1(
                    userId: user.lowercased, lessonId: lessonID.lowercased, moduleId: lesson.moduleID.lowercased, isFree: lesson.isFree, completedAt: now)
                try Self.publish(event, about: user, on: connection)
            }
            return try Self.rollUp(after: lessonID, module: lesson.moduleID, of: user, outline: outline, completed: true, reason: "lesson_completed", now: now, on: connection)
        }
    }

    /// Undoes a lesson's completion; undoing one not completed changes nothing.
    public func uncomplete(_ lessonID: UUID, by user: UUID, now: Date) async throws -> CompletionAnswer {
        try await changing(user) { connection, outline in
            let known = try connection.query("SELECT module_id, is_free FROM lesson_progress WHERE user_id = \(user) AND lesson_id = \(lessonID)").first
            let published = outline.lessons.first { $0.id == lessonID }
            guard let moduleID = try published?.moduleID ?? known?.decode("module_id", as: UUID.self) else { throw DomainError.notFound("lesson") }
            let undone = try connection.query(
                """
                UPDATE lesson_progress SET completed_at = NULL
                WHERE user_id = \(user) AND lesson_id = \(lessonID) AND completed_at IS NOT NULL
                RETURNING is_free
                """
            ).first
            if let undone {
                let event = ProgressLessonUncompletedV1(
                    userId: user.lowercased, lessonId: lessonID.lowercased, moduleId: moduleID.lowercased,
                    isFree: try published?.isFree ?? undone.decode("is_free"), uncompletedAt: now)
                try Self.publish(event, about: user, on: connection)
            }
            return try Self.rollUp(after: lessonID, module: moduleID, of: user, outline: outline, completed: false, reason: "lesson_uncompleted", now: now, on: connection)
        }
    }

    static func rollUp(
        after lessonID: UUID, module: UUID, of user: UUID, outline: Outline, completed: Bool, reason: String, now: Date, on connection: PostgresConnection
    ) throws -> CompletionAnswer {
        let moduleCompleted = try rollUpModule(module, of: user, outline: outline, reason: reason, now: now, on: connection)
        let courseCompleted = try rollUpCourse(of: user, outline: outline, reason: reason, now: now, on: connection)
        return CompletionAnswer(
            lessonId: lessonID.lowercased, lessonCompleted: completed, moduleCompleted: moduleCompleted, courseCompleted: courseCompleted,
            moduleId: module.lowercased, nextModuleId: moduleCompleted ? outline.module(after: module)?.lowercased : nil)
    }

    // MARK: Summary

    public struct ModuleSummary: Codable, Sendable, Equatable {
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

    public struct Summary: Codable, Sendable, Equatable {
        public var lessonsCompleted: Int
        public var lessonsTotal: Int
        public var percent: Int
        public var courseCompleted: Bool
        public var modules: [ModuleSummary]
        /// The first lesson, in course order, not yet completed (none once the course is done).
        public var nextLesson: NextLesson?
    }

    static func percent(_ done: Int, of total: Int) -> Int { total == 0 ? 0 : done * 100 / total }

    public func summary(of user: UUID) async throws -> Summary {
        try await asLearner(user) { connection in
            let outline = try Self.outline(on: connection)
            let done = Set(try connection.query("SELECT lesson_id FROM lesson_progress WHERE user_id = \(user) AND completed_at IS NOT NULL").map {
                try $0.decode("lesson_id", as: UUID.self)
            })
            let completedModules = Set(try connection.query("SELECT module_id FROM module_progress WHERE user_id = \(user) AND completed").map {
                try $0.decode("module_id", as: UUID.self).lowercased
            })
            let hasAccess = try Entitlements.of(user, on: connection).hasAccess
            let unlocked = CourseAccess.unlockedModules(inOrder: outline.moduleOrder, completed: completedModules)
            let modules = outline.modules.enumerated().map { index, module in
                let lessons = outline.lessons(of: module.id)
                let completedCount = lessons.filter { done.contains($0.id) }.count
                return ModuleSummary(
                    moduleId: module.id.lowercased, title: module.title, order: index + 1, lessonsCompleted: completedCount, lessonsTotal: lessons.count,
                    percent: Self.percent(completedCount, of: lessons.count), completed: completedModules.contains(module.id.lowercased),
                    unlocked: unlocked.contains(module.id.lowercased))
            }
            let next = outline.lessons.first { !done.contains($0.id) }.map { lesson in
                let lock = CourseAccess.lock(isFree: lesson.isFree, hasAccess: hasAccess, moduleUnlocked: unlocked.contains(lesson.moduleID.lowercased))
                return NextLesson(
                    lessonId: lesson.id.lowercased, moduleId: lesson.moduleID.lowercased, title: lesson.title, unlocked: lock == nil, lockReason: lock)
            }
            let completedLessons = outline.lessons.filter { done.contains($0.id) }.count
            let courseCompleted = try connection.query("SELECT completed FROM course_progress WHERE user_id = \(user)").first?.decode("completed", as: Bool.self) ?? false
            return Summary(
                lessonsCompleted: completedLessons, lessonsTotal: outline.lessons.count, percent: Self.percent(completedLessons, of: outline.lessons.count),
                courseCompleted: courseCompleted, modules: modules, nextLesson: next)
        }
    }
}
