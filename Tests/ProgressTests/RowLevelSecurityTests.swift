import Database
import ServiceKit
import Foundation
import Testing
import TestSupport

@testable import Progress

/// Progress rows are isolated by Postgres itself: inside a learner's request context a query
/// with no user filter at all sees that learner's rows only, and cannot write another's.
@Suite(.serialized) struct RowLevelSecurityTests {
    let pool: DatabasePool
    let store: LearnerProgress

    init() async throws {
        let migrations = DatabasePool(url: try TestEnvironment.value("PROGRESS_MIGRATION_DATABASE_URL"), size: 1, searchPath: "progress", logger: TestEnvironment.logger)
        defer { migrations.shutdown() }
        _ = try await Migrator(schema: "progress", migrations: ProgressMigrations.all).migrate(migrations, logger: TestEnvironment.logger)
        // The service's own role: not the tables' owner, no BYPASSRLS.
        pool = DatabasePool(url: try TestEnvironment.value("PROGRESS_DATABASE_URL"), size: 2, searchPath: "progress", logger: TestEnvironment.logger)
        store = LearnerProgress(database: pool, logger: TestEnvironment.logger)
    }

    func seed(_ rows: [(user: UUID, lesson: UUID)]) async throws {
        try await pool.transaction { connection in
            try RowSecurity.enterSystem(on: connection)
            for row in rows {
                try connection.execute(
                    "INSERT INTO lesson_progress (user_id, lesson_id, module_id, is_free, completed_at) VALUES (\(row.user), \(row.lesson), \(UUID()), false, now())")
            }
        }
    }

    func erase(_ users: [UUID]) async throws {
        try await pool.transaction { connection in
            for user in users { try LearnerProgress.forget(user, on: connection) }
        }
    }

    @Test func aLearnersContextSeesOnlyTheirRows() async throws {
        let ada = UUID(), bob = UUID()
        try await seed([(ada, UUID()), (ada, UUID()), (bob, UUID())])

        let seen = try await store.asLearner(ada) { connection in
            try connection.query("SELECT user_id FROM lesson_progress").map { try $0.decode("user_id", as: UUID.self) }
        }
        #expect(seen == [ada, ada])
        let bobs = try await store.asLearner(bob) { connection in
            try connection.query("SELECT count(*) AS n FROM lesson_progress").first!.decode("n", as: Int.self)
        }
        #expect(bobs == 1)
        // The same in a read that begins, scopes and commits in one round trip.
        let read = try await store.database.read(asLearner: ada, "SELECT user_id FROM lesson_progress").map { try $0.decode("user_id", as: UUID.self) }
        #expect(read == [ada, ada])
        let written = try await store.database.read(asLearner: ada, "SELECT count(*) AS n FROM lesson_progress WHERE user_id = \(bob)")
        #expect(try written.first!.decode("n", as: Int.self) == 0)
        // Outside it nothing is visible: the scope ended with its transaction.
        #expect(try await store.database.query("SELECT count(*) AS n FROM lesson_progress").first!.decode("n", as: Int.self) == 0)

        // Another learner's rows can be neither changed nor deleted from a learner's context.
        let touched = try await store.asLearner(ada) { connection in
            try connection.execute("UPDATE lesson_progress SET completed_at = NULL WHERE user_id = \(bob)").affectedRows
                + connection.execute("DELETE FROM lesson_progress WHERE user_id = \(bob)").affectedRows
        }
        #expect(touched == 0)
        let bobsAfter = try await store.asLearner(bob) { connection in
            try connection.query("SELECT count(*) AS n FROM lesson_progress WHERE completed_at IS NOT NULL").first!.decode("n", as: Int.self)
        }
        #expect(bobsAfter == 1)
        try await erase([ada, bob])
    }

    @Test func anotherLearnersLessonAnswers404() async throws {
        let ada = UUID(), bob = UUID(), lesson = UUID()
        try await seed([(ada, lesson)])
        // The lesson is not in the published outline; only Ada has a row for it.
        await #expect(throws: DomainError.notFound("lesson")) { try await store.uncomplete(lesson, by: bob, now: Date()) }
        let undone = try await store.uncomplete(lesson, by: ada, now: Date())
        #expect(undone.lessonCompleted == false)
        try await erase([ada, bob])
    }

    @Test func aLearnerCannotWriteAnotherLearnersRow() async throws {
        let ada = UUID(), bob = UUID()
        await #expect(throws: DatabaseError.self) {
            try await store.asLearner(ada) { connection in
                try connection.execute(
                    "INSERT INTO lesson_progress (user_id, lesson_id, module_id, is_free) VALUES (\(bob), \(UUID()), \(UUID()), false)")
            }
        }
        try await erase([ada, bob])
    }

    @Test func withoutAContextNothingIsVisible() async throws {
        let ada = UUID()
        try await seed([(ada, UUID())])
        let visible = try await pool.transaction { connection in
            try connection.query("SELECT count(*) AS n FROM lesson_progress").first!.decode("n", as: Int.self)
                + connection.query("SELECT count(*) AS n FROM module_progress").first!.decode("n", as: Int.self)
                + connection.query("SELECT count(*) AS n FROM course_progress").first!.decode("n", as: Int.self)
        }
        #expect(visible == 0)
        try await erase([ada])
    }
}
