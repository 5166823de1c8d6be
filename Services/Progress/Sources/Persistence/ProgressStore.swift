import Contracts
import CourseRules
import Database
import Foundation
import Logging
import ServiceKit

/// Learner progress in the `progress` schema: lesson completions (binary, one row per learner and
/// lesson), the module and course roll-ups with every transition published, and the outline and
/// entitlements it needs to decide what may be completed.
///
/// Learner rows are under row-level security: a request works inside `asLearner`, where Postgres
/// shows and accepts that learner's rows only; event handlers work in `asSystem`. Within a
/// learner's transaction the learner's course row is locked first, so a learner's completions
/// are applied one at a time and each transition is published exactly once.
public struct ProgressStore: Sendable {
    let database: DatabasePool
    let logger: Logger

    public init(database: DatabasePool, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    // MARK: Scopes

    /// Runs `body` in one transaction that sees and writes only `user`'s progress rows.
    public func asLearner<T: Sendable>(_ user: UUID, _ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await database.transaction(asLearner: user, body)
    }

    /// A learner's change: the outline is held steady (a new one waits for it, and it for a new
    /// one being applied, so no change is computed against an outline being replaced), then the
    /// learner's course row is locked.
    func changing<T: Sendable>(_ user: UUID, _ body: @escaping @Sendable (PostgresConnection, Outline) throws -> T) async throws -> T {
        try await asLearner(user) { connection in
            _ = try connection.query("SELECT version FROM outline_state FOR SHARE")
            try Self.lockCourse(of: user, on: connection)
            return try body(connection, try Self.outline(on: connection))
        }
    }


    // MARK: Outline

    struct Lesson: Sendable {
        var id: UUID
        var moduleID: UUID
        var title: String
        var isFree: Bool
    }

    struct Outline: Sendable {
        /// Published modules in order, with their titles.
        var modules: [(id: UUID, title: String)]
        /// Published lessons in course order.
        var lessons: [Lesson]

        var moduleOrder: [String] { modules.map(\.id.lowercased) }

        func lessons(of module: UUID) -> [Lesson] { lessons.filter { $0.moduleID == module } }

        /// What roll-ups depend on: the modules in order, and which lessons each holds (titles,
        /// free flags and durations do not change anyone's completion).
        var shape: [UUID] { modules.map(\.id) + lessons.flatMap { [$0.moduleID, $0.id] } }

        func module(after module: UUID) -> UUID? {
            CourseAccess.module(after: module.lowercased, inOrder: moduleOrder).flatMap(UUID.init(uuidString:))
        }
    }

    static func outline(on connection: PostgresConnection) throws -> Outline {
        let modules = try connection.query("SELECT module_id, title FROM outline_modules ORDER BY position").map {
            (id: try $0.decode("module_id", as: UUID.self), title: try $0.decode("title", as: String.self))
        }
        let lessons = try connection.query(
            """
            SELECT l.lesson_id, l.module_id, l.title, l.is_free FROM outline_lessons l JOIN outline_modules m USING (module_id)
            ORDER BY m.position, l.position
            """
        ).map {
            Lesson(id: try $0.decode("lesson_id"), moduleID: try $0.decode("module_id"), title: try $0.decode("title"), isFree: try $0.decode("is_free"))
        }
        return Outline(modules: modules, lessons: lessons)
    }

    /// Replaces the outline with a newer one and brings every learner's roll-ups in line with it.
    static func applyOutline(_ event: CloudEvent<ContentCourseOutlineChangedV1>, on connection: PostgresConnection) throws {
        try RowSecurity.enterSystem(on: connection)
        let updated = try connection.execute(
            "UPDATE outline_state SET version = \(event.data.version) WHERE version < \(event.data.version)")
        guard updated.affectedRows == 1 else { return }
        let before = try outline(on: connection)
        try connection.execute("DELETE FROM outline_modules")
        for module in event.data.modules {
            guard let moduleID = UUID(uuidString: module.id) else { throw ConsumeFailure.undecodable("module id \(module.id)") }
            try connection.execute(
                "INSERT INTO outline_modules (module_id, title, position) VALUES (\(moduleID), \(module.title), \(module.order))")
            for lesson in module.lessons {
                guard let lessonID = UUID(uuidString: lesson.id) else { throw ConsumeFailure.undecodable("lesson id \(lesson.id)") }
                try connection.execute(
                    """
                    INSERT INTO outline_lessons (lesson_id, module_id, title, position, is_free, duration_seconds)
                    VALUES (\(lessonID), \(moduleID), \(lesson.title), \(lesson.order), \(lesson.isFree), \(lesson.durationSeconds))
                    """)
            }
        }
        let outline = try outline(on: connection)
        // A renamed lesson or a new free flag leaves every learner's roll-ups as they were.
        guard outline.shape != before.shape else { return }
        let learners = try connection.query(
            "SELECT user_id FROM lesson_progress UNION SELECT user_id FROM module_progress ORDER BY user_id"
        ).map { try $0.decode("user_id", as: UUID.self) }
        let now = event.data.changedAt
        for learner in learners {
            try lockCourse(of: learner, on: connection)
            let tracked = try connection.query("SELECT module_id FROM module_progress WHERE user_id = \(learner)").map {
                try $0.decode("module_id", as: UUID.self)
            }
            var modules = outline.modules.map(\.id)
            modules += tracked.filter { !modules.contains($0) }
            for module in modules {
                _ = try rollUpModule(module, of: learner, outline: outline, reason: "outline_changed", now: now, on: connection)
            }
            try rollUpCourse(of: learner, outline: outline, reason: "outline_changed", now: now, on: connection)
        }
    }

    // MARK: Roll-ups

    /// Locks the learner's course row: every change to one learner's progress takes it first.
    static func lockCourse(of user: UUID, on connection: PostgresConnection) throws {
        try connection.execute("INSERT INTO course_progress (user_id) VALUES (\(user)) ON CONFLICT DO NOTHING")
        _ = try connection.query("SELECT 1 FROM course_progress WHERE user_id = \(user) FOR UPDATE")
    }

    /// Publishes an event about the learner, numbered after every earlier one about them (the
    /// learner's course row is locked, so numbers follow commit order).
    static func publish<E: DomainEvent>(_ event: E, about user: UUID, on connection: PostgresConnection) throws {
        let sequence = try connection.query(
            "UPDATE course_progress SET event_sequence = event_sequence + 1 WHERE user_id = \(user) RETURNING event_sequence"
        ).first!.decode("event_sequence", as: Int64.self)
        try Outbox.enqueue(CloudEvent(event, sequence: sequence), on: connection)
    }

    /// Whether every currently published lesson of the module is completed (a module with none
    /// is not part of the published course, so not complete).
    static func isComplete(_ module: UUID, of user: UUID, outline: Outline, on connection: PostgresConnection) throws -> Bool {
        let lessons = outline.lessons(of: module).map(\.id)
        guard !lessons.isEmpty else { return false }
        let done = try connection.query(
            """
            SELECT count(*) AS n FROM lesson_progress
            WHERE user_id = \(user) AND completed_at IS NOT NULL AND lesson_id = ANY(\(array: lessons))
            """
        ).first!.decode("n", as: Int.self)
        return done == lessons.count
    }

    /// Brings the module's recorded state in line with the lessons done, publishing the
    /// transition if there is one. Returns whether the module is complete.
    static func rollUpModule(_ module: UUID, of user: UUID, outline: Outline, reason: String, now: Date, on connection: PostgresConnection) throws -> Bool {
        let complete = try isComplete(module, of: user, outline: outline, on: connection)
        try connection.execute("INSERT INTO module_progress (user_id, module_id) VALUES (\(user), \(module)) ON CONFLICT DO NOTHING")
        let row = try connection.query(
            "SELECT completed, ever_completed FROM module_progress WHERE user_id = \(user) AND module_id = \(module) FOR UPDATE"
        ).first!
        let was: Bool = try row.decode("completed")
        guard was != complete else { return complete }
        let everCompleted: Bool = try row.decode("ever_completed")
        try connection.execute(
            """
            UPDATE module_progress SET completed = \(complete), ever_completed = ever_completed OR \(complete), updated_at = now()
            WHERE user_id = \(user) AND module_id = \(module)
            """)
        if complete {
            let event = ProgressModuleCompletedV1(
                userId: user.lowercased, moduleId: module.lowercased, firstTime: !everCompleted,
                nextModuleId: outline.module(after: module)?.lowercased, completedAt: now)
            try publish(event, about: user, on: connection)
        } else {
            try publish(ProgressModuleReopenedV1(userId: user.lowercased, moduleId: module.lowercased, reason: reason, reopenedAt: now), about: user, on: connection)
        }
        return complete
    }

    /// The same for the course: complete while every published module is.
    @discardableResult
    static func rollUpCourse(of user: UUID, outline: Outline, reason: String, now: Date, on connection: PostgresConnection) throws -> Bool {
        let modules = outline.modules.map(\.id)
        var complete = !modules.isEmpty
        if complete {
            let done = try connection.query(
                "SELECT count(*) AS n FROM module_progress WHERE user_id = \(user) AND completed AND module_id = ANY(\(array: modules))"
            ).first!.decode("n", as: Int.self)
            complete = done == modules.count
        }
        let row = try connection.query("SELECT completed, ever_completed FROM course_progress WHERE user_id = \(user) FOR UPDATE").first!
        let was: Bool = try row.decode("completed")
        guard was != complete else { return complete }
        let everCompleted: Bool = try row.decode("ever_completed")
        try connection.execute(
            """
            UPDATE course_progress SET completed = \(complete), ever_completed = ever_completed OR \(complete), updated_at = now()
            WHERE user_id = \(user)
            """)
        if complete {
            try publish(ProgressCourseCompletedV1(userId: user.lowercased, firstTime: !everCompleted, completedAt: now), about: user, on: connection)
        } else {
            try publish(ProgressCourseReopenedV1(userId: user.lowercased, reason: reason, reopenedAt: now), about: user, on: connection)
        }
        return complete
    }

    // MARK: Projections

    /// Erases what progress holds of a deleted learner.
    static func forget(_ user: UUID, on connection: PostgresConnection) throws {
        try RowSecurity.enterSystem(on: connection)
        try Entitlements.forget(user, on: connection)
        try connection.execute("DELETE FROM lesson_progress WHERE user_id = \(user)")
        try connection.execute("DELETE FROM module_progress WHERE user_id = \(user)")
        try connection.execute("DELETE FROM course_progress WHERE user_id = \(user)")
        try connection.execute(
            "DELETE FROM aggregate_versions WHERE aggregate = 'plan' AND aggregate_id IN (SELECT plan_id::text FROM plan_versions WHERE user_id = \(user))")
        try connection.execute("DELETE FROM plan_versions WHERE user_id = \(user)")
        try connection.execute("DELETE FROM task_progress WHERE user_id = \(user)")
    }
}
