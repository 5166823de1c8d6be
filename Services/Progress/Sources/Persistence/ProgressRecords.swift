import Contracts
import Database
import Foundation
import ServiceKit

/// Loads and saves progress's rows; it decides nothing (the rules are in `Domain/`, the use
/// cases in `Application/`). Every function runs on the caller's transaction.
enum ProgressRecords {
    // MARK: Outline

    static func outline(on connection: PostgresConnection) throws -> Outline {
        let modules = try connection.query("SELECT module_id, title FROM outline_modules ORDER BY position").map {
            Outline.Module(id: try $0.decode("module_id"), title: try $0.decode("title"))
        }
        let lessons = try connection.query(
            """
            SELECT l.lesson_id, l.module_id, l.title, l.is_free FROM outline_lessons l JOIN outline_modules m USING (module_id)
            ORDER BY m.position, l.position
            """
        ).map {
            Outline.Lesson(id: try $0.decode("lesson_id"), moduleID: try $0.decode("module_id"), title: try $0.decode("title"), isFree: try $0.decode("is_free"))
        }
        return Outline(modules: modules, lessons: lessons)
    }

    /// Holds the outline steady for the transaction: a new one waits for it.
    /// Holds the outline steady for the transaction; returns its version.
    @discardableResult
    static func holdOutline(on connection: PostgresConnection) throws -> Int64 {
        try connection.query("SELECT version FROM outline_state FOR SHARE").first!.decode("version", as: Int64.self)
    }

    /// The outline at `version` (which the caller holds): from memory while it is the one kept,
    /// else read and kept. The outline's tables change only with its version.
    static func outline(at version: Int64, memory: VersionedMemory<Outline>, on connection: PostgresConnection) throws -> Outline {
        try memory.value(at: version) { try outline(on: connection) }
    }

    /// Records `version` as the outline's if it is newer than the one kept; false otherwise.
    static func advanceOutline(to version: Int64, on connection: PostgresConnection) throws -> Bool {
        try connection.execute("UPDATE outline_state SET version = \(version) WHERE version < \(version)").affectedRows == 1
    }

    static func replaceOutline(with modules: [OutlineModule], on connection: PostgresConnection) throws {
        try connection.execute("DELETE FROM outline_modules")
        for module in modules {
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
    }

    /// Channel that wakes the reconciler when learners wait for a new outline.
    static let reconcileChannel = "progress_reconcile"

    /// Records the learners whose roll-ups `change` may alter as waiting for the new outline.
    static func awaitReconcile(_ change: RollUps.OutlineChange, changedAt: Date, on connection: PostgresConnection) throws {
        try connection.execute(
            """
            INSERT INTO outline_reconcile (user_id, changed_at)
            SELECT user_id, \(changedAt) FROM lesson_progress WHERE completed_at IS NOT NULL AND lesson_id = ANY(\(array: Array(change.lessons)))
            UNION SELECT user_id, \(changedAt) FROM module_progress WHERE module_id = ANY(\(array: Array(change.modules)))
            UNION SELECT user_id, \(changedAt) FROM module_progress WHERE \(change.courseChanged) AND completed
            UNION SELECT user_id, \(changedAt) FROM course_progress WHERE \(change.courseChanged) AND completed
            ON CONFLICT (user_id) DO NOTHING
            """)
        try connection.execute("SELECT pg_notify(\(reconcileChannel), '')")
    }

    /// Up to `limit` learners waiting for the outline, locked (others' reconcilers skip them).
    static func awaitingReconcile(limit: Int, on connection: PostgresConnection) throws -> [(user: UUID, changedAt: Date)] {
        try connection.query("SELECT user_id, changed_at FROM outline_reconcile ORDER BY user_id LIMIT \(limit) FOR UPDATE SKIP LOCKED").map {
            (try $0.decode("user_id", as: UUID.self), try $0.decode("changed_at", as: Date.self))
        }
    }

    static func reconciled(_ users: [UUID], on connection: PostgresConnection) throws {
        try connection.execute("DELETE FROM outline_reconcile WHERE user_id = ANY(\(array: users))")
    }

    /// The learner's module records (the caller holds the course row).
    static func moduleRecords(of user: UUID, on connection: PostgresConnection) throws -> [UUID: CompletionRecord] {
        var records: [UUID: CompletionRecord] = [:]
        for row in try connection.query("SELECT module_id, completed, ever_completed FROM module_progress WHERE user_id = \(user)") {
            records[try row.decode("module_id")] = CompletionRecord(completed: try row.decode("completed"), everCompleted: try row.decode("ever_completed"))
        }
        return records
    }

    // MARK: A learner's course

    /// Locks the learner's course row: every change to one learner's progress takes it first.
    static func lockCourse(of user: UUID, on connection: PostgresConnection) throws {
        // One round trip: a new row is inserted, an existing one locked (the no-op update takes
        // its row lock, waiting for a concurrent insert to settle first).
        try connection.execute(
            "INSERT INTO course_progress (user_id) VALUES (\(user)) ON CONFLICT (user_id) DO UPDATE SET user_id = excluded.user_id")
    }

    /// Whether the learner has access, and the modules recorded complete for them, in one round trip.
    static func access(of user: UUID, on connection: PostgresConnection) throws -> (hasAccess: Bool, completedModules: Set<UUID>) {
        let row = try connection.query(
            """
            SELECT coalesce((SELECT has_access FROM entitlements WHERE user_id = \(user)), false) AS has_access,
                   (SELECT string_agg(module_id::text, ',') FROM module_progress WHERE user_id = \(user) AND completed) AS modules
            """
        ).first!
        let modules = Set((try row.decode("modules", as: String?.self) ?? "").split(separator: ",").compactMap { UUID(uuidString: String($0)) })
        return (try row.decode("has_access", as: Bool.self), modules)
    }
    /// The next number of an event about the learner (their course row is locked, so numbers
    /// follow commit order).
    static func nextEventSequence(of user: UUID, on connection: PostgresConnection) throws -> Int64 {
        try connection.query(
            "UPDATE course_progress SET event_sequence = event_sequence + 1 WHERE user_id = \(user) RETURNING event_sequence"
        ).first!.decode("event_sequence", as: Int64.self)
    }

    /// The lessons the learner has completed (of `among` only, when given: a completion asks
    /// about one module's lessons, not the whole course's).
    static func doneLessons(of user: UUID, among lessons: [UUID]? = nil, on connection: PostgresConnection) throws -> Set<UUID> {
        let rows = try lessons.map { lessons in
            try connection.query(
                "SELECT lesson_id FROM lesson_progress WHERE user_id = \(user) AND completed_at IS NOT NULL AND lesson_id = ANY(\(array: lessons))")
        } ?? connection.query("SELECT lesson_id FROM lesson_progress WHERE user_id = \(user) AND completed_at IS NOT NULL")
        return Set(try rows.map { try $0.decode("lesson_id", as: UUID.self) })
    }

    /// The modules recorded complete for the learner.
    static func completedModules(of user: UUID, on connection: PostgresConnection) throws -> Set<UUID> {
        Set(try connection.query("SELECT module_id FROM module_progress WHERE user_id = \(user) AND completed").map {
            try $0.decode("module_id", as: UUID.self)
        })
    }

    /// The module's record for the learner, locked (created, never complete, if missing).
    static func moduleRecord(_ module: UUID, of user: UUID, on connection: PostgresConnection) throws -> CompletionRecord {
        // One round trip: a new row is inserted, an existing one locked (the no-op update takes
        // its row lock, waiting for a concurrent insert to settle first).
        let row = try connection.query(
            """
            INSERT INTO module_progress (user_id, module_id) VALUES (\(user), \(module))
            ON CONFLICT (user_id, module_id) DO UPDATE SET user_id = excluded.user_id
            RETURNING completed, ever_completed
            """
        ).first!
        return CompletionRecord(completed: try row.decode("completed"), everCompleted: try row.decode("ever_completed"))
    }

    static func saveModuleRecord(_ record: CompletionRecord, module: UUID, of user: UUID, on connection: PostgresConnection) throws {
        try connection.execute(
            """
            UPDATE module_progress SET completed = \(record.completed), ever_completed = \(record.everCompleted), updated_at = now()
            WHERE user_id = \(user) AND module_id = \(module)
            """)
    }

    /// The course's record for the learner (the caller holds the course row).
    static func courseRecord(of user: UUID, on connection: PostgresConnection) throws -> CompletionRecord {
        let row = try connection.query("SELECT completed, ever_completed FROM course_progress WHERE user_id = \(user) FOR UPDATE").first!
        return CompletionRecord(completed: try row.decode("completed"), everCompleted: try row.decode("ever_completed"))
    }

    static func saveCourseRecord(_ record: CompletionRecord, of user: UUID, on connection: PostgresConnection) throws {
        try connection.execute(
            """
            UPDATE course_progress SET completed = \(record.completed), ever_completed = \(record.everCompleted), updated_at = now()
            WHERE user_id = \(user)
            """)
    }

    /// Everything a summary needs of the learner, and the outline's version, in one round trip.
    static func summaryState(of user: UUID, on connection: PostgresConnection) throws -> SummaryState {
        try summaryState(from: connection.query(summaryStateQuery(of: user)).first!)
    }

    static func summaryStateQuery(of user: UUID) -> Query {
        """
            SELECT (SELECT version FROM outline_state) AS version,
                   (SELECT string_agg(lesson_id::text, ',') FROM lesson_progress WHERE user_id = \(user) AND completed_at IS NOT NULL) AS done,
                   (SELECT string_agg(module_id::text, ',') FROM module_progress WHERE user_id = \(user) AND completed) AS modules,
                   coalesce((SELECT has_access FROM entitlements WHERE user_id = \(user)), false) AS has_access,
                   coalesce((SELECT completed FROM course_progress WHERE user_id = \(user)), false) AS course_completed
        """
    }

    static func summaryState(from row: Row) throws -> SummaryState {
        func ids(_ column: String) throws -> Set<UUID> {
            Set(try (row.decode(column, as: String?.self) ?? "").split(separator: ",").compactMap { UUID(uuidString: String($0)) })
        }
        return SummaryState(
            version: try row.decode("version", as: Int64.self), done: try ids("done"), completedModules: try ids("modules"),
            hasAccess: try row.decode("has_access", as: Bool.self), courseCompleted: try row.decode("course_completed", as: Bool.self))
    }

    struct SummaryState {
        var version: Int64
        var done: Set<UUID>
        var completedModules: Set<UUID>
        var hasAccess: Bool
        var courseCompleted: Bool
    }

    /// Whether the course is recorded complete for the learner (false with no record).
    static func isCourseCompleted(by user: UUID, on connection: PostgresConnection) throws -> Bool {
        try connection.query("SELECT completed FROM course_progress WHERE user_id = \(user)").first?.decode("completed", as: Bool.self) ?? false
    }

    // MARK: Lessons

    /// Records a start; answers whether it is the learner's first start of the lesson.
    static func recordStart(of lesson: Outline.Lesson, by user: UUID, at now: Date, on connection: PostgresConnection) throws -> Bool {
        try connection.query(
            """
            WITH previous AS (SELECT started_at FROM lesson_progress WHERE user_id = \(user) AND lesson_id = \(lesson.id))
            INSERT INTO lesson_progress (user_id, lesson_id, module_id, is_free, started_at, last_started_at)
            VALUES (\(user), \(lesson.id), \(lesson.moduleID), \(lesson.isFree), \(now), \(now))
            ON CONFLICT (user_id, lesson_id) DO UPDATE SET started_at = coalesce(lesson_progress.started_at, excluded.started_at),
                last_started_at = excluded.last_started_at, module_id = excluded.module_id, is_free = excluded.is_free
            RETURNING (SELECT started_at FROM previous) IS NULL AS first_time
            """
        ).first!.decode("first_time")
    }

    /// Records a completion; answers whether the lesson was not complete before.
    static func recordCompletion(of lesson: Outline.Lesson, by user: UUID, at now: Date, on connection: PostgresConnection) throws -> Bool {
        try connection.query(
            """
            INSERT INTO lesson_progress (user_id, lesson_id, module_id, is_free, completed_at)
            VALUES (\(user), \(lesson.id), \(lesson.moduleID), \(lesson.isFree), \(now))
            ON CONFLICT (user_id, lesson_id) DO UPDATE SET completed_at = excluded.completed_at, module_id = excluded.module_id,
                is_free = excluded.is_free
            WHERE lesson_progress.completed_at IS NULL
            RETURNING lesson_id
            """
        ).first != nil
    }

    /// The module and free flag recorded with a lesson the learner has a row of.
    static func knownLesson(_ lesson: UUID, of user: UUID, on connection: PostgresConnection) throws -> (moduleID: UUID, isFree: Bool)? {
        guard let row = try connection.query("SELECT module_id, is_free FROM lesson_progress WHERE user_id = \(user) AND lesson_id = \(lesson)").first
        else { return nil }
        return (try row.decode("module_id"), try row.decode("is_free"))
    }

    /// Clears a completion; answers the lesson's recorded free flag if it was complete.
    static func clearCompletion(of lesson: UUID, by user: UUID, on connection: PostgresConnection) throws -> Bool? {
        try connection.query(
            """
            UPDATE lesson_progress SET completed_at = NULL
            WHERE user_id = \(user) AND lesson_id = \(lesson) AND completed_at IS NOT NULL
            RETURNING is_free
            """
        ).first?.decode("is_free", as: Bool.self)
    }

    /// Erases what progress holds of a learner.
    static func forget(_ user: UUID, on connection: PostgresConnection) throws {
        // First: a reconciler holding the learner finishes before anything is erased, and none
        // takes them up afterwards.
        try connection.execute("DELETE FROM outline_reconcile WHERE user_id = \(user)")
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
