import Contracts
import CourseRules
import Database
import Foundation
import ServiceKit

/// What a learner does with lessons: start, complete and undo them, and read their summary.
extension LearnerProgress {
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

    /// The lesson, if published and open to the learner; else not found, or forbidden with the
    /// reason (the course's gating rule, shared with content).
    static func openLesson(_ id: UUID, of user: UUID, outline: Outline, on connection: PostgresConnection) throws -> Outline.Lesson {
        guard let lesson = outline.lesson(id) else { throw DomainError.notFound("lesson") }
        let access = try ProgressRecords.access(of: user, on: connection)
        let hasAccess = access.hasAccess
        let completed = Set(access.completedModules.map(\.lowercased))
        let unlocked = CourseAccess.unlockedModules(inOrder: outline.moduleOrder, completed: completed)
        if let lock = CourseAccess.lock(isFree: lesson.isFree, hasAccess: hasAccess, moduleUnlocked: unlocked.contains(lesson.moduleID.lowercased)) {
            throw DomainError(
                .forbidden, code: lock.rawValue,
                title: lock == .subscriptionRequired ? "This lesson needs a subscription" : "This lesson's module is locked")
        }
        return lesson
    }

    public func start(_ lessonID: UUID, by user: UUID, now: Date) async throws -> StartAnswer {
        try await changing(user) { connection, outline in
            let lesson = try Self.openLesson(lessonID, of: user, outline: outline, on: connection)
            let firstTime = try ProgressRecords.recordStart(of: lesson, by: user, at: now, on: connection)
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
            if try ProgressRecords.recordCompletion(of: lesson, by: user, at: now, on: connection) {
                let event = ProgressLessonCompletedV1(
                    userId: user.lowercased, lessonId: lessonID.lowercased, moduleId: lesson.moduleID.lowercased, isFree: lesson.isFree, completedAt: now)
                try Self.publish(event, about: user, on: connection)
            }
            return try Self.rollUp(after: lessonID, module: lesson.moduleID, of: user, outline: outline, completed: true, reason: "lesson_completed", now: now, on: connection)
        }
    }

    /// Undoes a lesson's completion; undoing one not completed changes nothing. A lesson no
    /// longer published can still be undone by whoever completed it.
    public func uncomplete(_ lessonID: UUID, by user: UUID, now: Date) async throws -> CompletionAnswer {
        try await changing(user) { connection, outline in
            let known = try ProgressRecords.knownLesson(lessonID, of: user, on: connection)
            let published = outline.lesson(lessonID)
            guard let moduleID = published?.moduleID ?? known?.moduleID else { throw DomainError.notFound("lesson") }
            if let wasFree = try ProgressRecords.clearCompletion(of: lessonID, by: user, on: connection) {
                let event = ProgressLessonUncompletedV1(
                    userId: user.lowercased, lessonId: lessonID.lowercased, moduleId: moduleID.lowercased,
                    isFree: published?.isFree ?? wasFree, uncompletedAt: now)
                try Self.publish(event, about: user, on: connection)
            }
            return try Self.rollUp(after: lessonID, module: moduleID, of: user, outline: outline, completed: false, reason: "lesson_uncompleted", now: now, on: connection)
        }
    }

    static func rollUp(
        after lessonID: UUID, module: UUID, of user: UUID, outline: Outline, completed: Bool, reason: String, now: Date, on connection: PostgresConnection
    ) throws -> CompletionAnswer {
        let done = try ProgressRecords.doneLessons(of: user, among: outline.lessons(of: module).map(\.id), on: connection)
        let moduleCompleted = try rollUpModule(module, of: user, outline: outline, done: done, reason: reason, now: now, on: connection)
        let courseCompleted = try rollUpCourse(of: user, outline: outline, reason: reason, now: now, on: connection)
        return CompletionAnswer(
            lessonId: lessonID.lowercased, lessonCompleted: completed, moduleCompleted: moduleCompleted, courseCompleted: courseCompleted,
            moduleId: module.lowercased, nextModuleId: moduleCompleted ? outline.module(after: module)?.lowercased : nil)
    }

    public func summary(of user: UUID) async throws -> ProgressSummary {
        let memory = outlineMemory
        // The learner's rows in one round trip (their scope's transaction with them); the outline
        // from memory while its version holds, else read beside it.
        let rows = try await database.read(asLearner: user, ProgressRecords.summaryStateQuery(of: user))
        let state = try ProgressRecords.summaryState(from: rows.first!)
        var outline = memory.kept(at: state.version)
        if outline == nil {
            outline = try await database.withConnection { try ProgressRecords.outline(at: state.version, memory: memory, on: $0) }
        }
        guard let outline else { preconditionFailure("the outline was just read") }
        return ProgressSummary(
            outline: outline, done: state.done, completedModules: state.completedModules, hasAccess: state.hasAccess,
            courseCompleted: state.courseCompleted)
    }
}
