import Contracts
import Database
import Foundation
import Hummingbird
import HummingbirdTesting
import ServiceKit
import ServiceTesting
import TestSupport
import Testing

@testable import Progress

/// Progress's routes in process, over a schema of their own: what each answers and what it
/// writes (the roll-ups and the events in the outbox).
@Suite struct ProgressRoutesTests {
    let free = UUID(), paid = UUID(), later = UUID()
    let first = UUID(), second = UUID()

    /// A course of two modules: a free and a paid lesson, then one paid lesson.
    var outline: ContentCourseOutlineChangedV1 {
        ContentCourseOutlineChangedV1(
            version: 1,
            modules: [
                OutlineModule(id: first.lowercased, title: "One", order: 1, lessons: [
                    OutlineLesson(id: free.lowercased, title: "Free", order: 1, isFree: true, durationSeconds: 60),
                    OutlineLesson(id: paid.lowercased, title: "Paid", order: 2, isFree: false, durationSeconds: 60),
                ]),
                OutlineModule(id: second.lowercased, title: "Two", order: 2, lessons: [
                    OutlineLesson(id: later.lowercased, title: "Later", order: 1, isFree: false, durationSeconds: nil),
                ]),
            ],
            changedAt: Date())
    }

    func withRoutes(_ body: @escaping @Sendable (any TestClientProtocol, DatabasePool, TestTokens) async throws -> Void) async throws {
        let tokens = try await TestTokens()
        let outline = self.outline
        try await withMigratedSchema(ProgressMigrations.all) { pool, _ in
            try await pool.transaction { connection in
                try LearnerProgress.applyOutline(CloudEvent(outline, sequence: 1), on: connection)
            }
            let router = buildProgressRouter(.init(database: pool, verifier: tokens.verifier, logger: TestEnvironment.logger))
            try await Application(router: router).test(.router) { client in try await body(client, pool, tokens) }
        }
    }

    func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
    }

    static func events(of user: UUID, on pool: DatabasePool) async throws -> [String] {
        try await pool.query("SELECT routing_key FROM outbox WHERE aggregate_id = \(user.lowercased) ORDER BY sequence").map {
            try $0.decode("routing_key", as: String.self)
        }
    }

    static func grantAccess(to user: UUID, on pool: DatabasePool) async throws {
        try await pool.execute("INSERT INTO entitlements (user_id, has_access, tier) VALUES (\(user), true, 'pro')")
    }

    @Test func completingAFreeLessonIsRecordedAndAnnounced() async throws {
        try await withRoutes { client, pool, tokens in
            let ada = UUID()
            let response = try await client.execute(
                uri: "/v1/progress/lessons/\(free.lowercased)", method: .put, headers: [.authorization: try await tokens.bearer(for: ada)])
            #expect(response.status == .ok)
            let body = try json(response)
            #expect(body["lessonCompleted"] as? Bool == true)
            #expect(body["moduleCompleted"] as? Bool == false, "the module's paid lesson is not done")
            #expect(try await Self.events(of: ada, on: pool) == ["progress.lesson.completed.v1"])

            // Twice is once.
            let again = try await client.execute(
                uri: "/v1/progress/lessons/\(free.lowercased)", method: .put, headers: [.authorization: try await tokens.bearer(for: ada)])
            #expect(again.status == .ok)
            #expect(try await Self.events(of: ada, on: pool) == ["progress.lesson.completed.v1"])
        }
    }

    /// The outline is kept in memory by its version: a new outline applied by the consumer is
    /// the one the next completion is computed against.
    @Test func aCompletionAfterANewOutlineIsComputedAgainstIt() async throws {
        try await withRoutes { client, pool, tokens in
            let ada = UUID()
            try await Self.grantAccess(to: ada, on: pool)
            let bearer = try await tokens.bearer(for: ada)
            let added = UUID()
            func complete(_ lesson: UUID) async throws -> TestResponse {
                try await client.execute(uri: "/v1/progress/lessons/\(lesson.lowercased)", method: .put, headers: [.authorization: bearer])
            }
            #expect(try await complete(free).status == .ok)
            #expect(try await complete(added).status == .notFound, "not in the outline yet")
            var next = outline
            next.version = 2
            next.modules[0].lessons.append(OutlineLesson(id: added.lowercased, title: "Added", order: 3, isFree: true, durationSeconds: 60))
            let event = next
            try await pool.transaction { connection in try LearnerProgress.applyOutline(CloudEvent(event, sequence: 2), on: connection) }
            #expect(try await complete(paid).status == .ok)
            let response = try await complete(added)
            #expect(response.status == .ok)
            #expect(try json(response)["moduleCompleted"] as? Bool == true, "all three lessons of the new outline's first module are done")
        }
    }

    /// An outline change waits only for the learners it can affect, who are brought in line with
    /// it in batches afterwards; the rest are never touched.
    @Test func anOutlineChangeReconcilesOnlyTheLearnersItTouches() async throws {
        try await withRoutes { client, pool, tokens in
            let ada = UUID(), bob = UUID()
            for learner in [ada, bob] { try await Self.grantAccess(to: learner, on: pool) }
            for (learner, lessons) in [(ada, [free]), (bob, [free, paid, later])] {
                for lesson in lessons {
                    let response = try await client.execute(
                        uri: "/v1/progress/lessons/\(lesson.lowercased)", method: .put, headers: [.authorization: try await tokens.bearer(for: learner)])
                    #expect(response.status == .ok)
                }
            }
            let adaEvents = try await Self.events(of: ada, on: pool)
            let progress = LearnerProgress(database: pool, logger: TestEnvironment.logger)
            func waiting() async throws -> [UUID] {
                try await pool.query("SELECT user_id FROM outline_reconcile ORDER BY user_id").map { try $0.decode("user_id", as: UUID.self) }
            }
            func apply(_ event: ContentCourseOutlineChangedV1) async throws {
                try await pool.transaction { connection in try LearnerProgress.applyOutline(CloudEvent(event, sequence: event.version), on: connection) }
            }

            // A lesson added to module two: only Bob has progress there.
            var added = outline
            added.version = 2
            added.modules[1].lessons.append(OutlineLesson(id: UUID().lowercased, title: "Extra", order: 2, isFree: false, durationSeconds: 60))
            try await apply(added)
            #expect(try await waiting() == [bob])
            #expect(try await Self.events(of: bob, on: pool).last == "progress.course.completed.v1", "nothing changes until reconciled")
            #expect(try await progress.reconcileBatch() == false, "one learner: the batch took all")
            #expect(try await waiting().isEmpty)
            #expect(try await Self.events(of: bob, on: pool).suffix(2) == ["progress.module.reopened.v1", "progress.course.reopened.v1"])

            // Module two gone: the course lost a module, so whoever completed one waits too.
            var removed = outline
            removed.version = 3
            removed.modules.removeLast()
            try await apply(removed)
            #expect(try await waiting() == [bob], "Ada has completed no module, and has no progress in module two")
            #expect(try await progress.reconcileBatch(limit: 1) == true, "a full batch: more may wait")
            #expect(try await Self.events(of: bob, on: pool).last == "progress.course.completed.v1", "module one is the whole course now")
            let completed = try await pool.query(
                "SELECT body FROM outbox WHERE aggregate_id = \(bob.lowercased) AND routing_key = 'progress.course.completed.v1' ORDER BY sequence DESC LIMIT 1")
            #expect(try completed.first!.decode("body", as: String.self).contains(#""firstTime":false"#))
            #expect(try await progress.reconcileBatch() == false)
            #expect(try await Self.events(of: ada, on: pool) == adaEvents, "Ada was never touched")
        }
    }

    @Test func aPaidLessonNeedsAccessAndALockedModuleWaits() async throws {
        try await withRoutes { client, pool, tokens in
            let bob = UUID()
            let bearer = try await tokens.bearer(for: bob)
            let refused = try await client.execute(uri: "/v1/progress/lessons/\(paid.lowercased)", method: .put, headers: [.authorization: bearer])
            #expect(refused.status == .forbidden)
            #expect(try json(refused)["code"] as? String == "subscription_required")

            try await Self.grantAccess(to: bob, on: pool)
            let locked = try await client.execute(uri: "/v1/progress/lessons/\(later.lowercased)", method: .put, headers: [.authorization: bearer])
            #expect(locked.status == .forbidden)
            #expect(try json(locked)["code"] as? String == "module_locked")
            #expect(try await Self.events(of: bob, on: pool) == [], "a refused completion writes nothing")

            let missing = try await client.execute(uri: "/v1/progress/lessons/\(UUID().lowercased)", method: .put, headers: [.authorization: bearer])
            #expect(missing.status == .notFound)
            #expect(try json(missing)["code"] as? String == "not_found")
        }
    }

    @Test func completingAModuleUnlocksTheNextAndUndoingReopensIt() async throws {
        try await withRoutes { client, pool, tokens in
            let cleo = UUID()
            try await Self.grantAccess(to: cleo, on: pool)
            let bearer = try await tokens.bearer(for: cleo)
            _ = try await client.execute(uri: "/v1/progress/lessons/\(free.lowercased)", method: .put, headers: [.authorization: bearer])
            let done = try await client.execute(uri: "/v1/progress/lessons/\(paid.lowercased)", method: .put, headers: [.authorization: bearer])
            let body = try json(done)
            #expect(body["moduleCompleted"] as? Bool == true)
            #expect(body["nextModuleId"] as? String == second.lowercased)
            let next = try await client.execute(uri: "/v1/progress/lessons/\(later.lowercased)", method: .put, headers: [.authorization: bearer])
            #expect(next.status == .ok)
            #expect(try json(next)["courseCompleted"] as? Bool == true)

            let undone = try await client.execute(uri: "/v1/progress/lessons/\(paid.lowercased)", method: .delete, headers: [.authorization: bearer])
            #expect(undone.status == .ok)
            #expect(try json(undone)["moduleCompleted"] as? Bool == false)
            #expect(try await Self.events(of: cleo, on: pool) == [
                "progress.lesson.completed.v1", "progress.lesson.completed.v1", "progress.module.completed.v1",
                "progress.lesson.completed.v1", "progress.module.completed.v1", "progress.course.completed.v1",
                "progress.lesson.uncompleted.v1", "progress.module.reopened.v1", "progress.course.reopened.v1",
            ])
            let firstTimes = try await pool.query(
                "SELECT body FROM outbox WHERE aggregate_id = \(cleo.lowercased) AND routing_key = 'progress.module.completed.v1' ORDER BY sequence"
            ).map { try $0.decode("body", as: String.self).contains(#""firstTime":true"#) }
            #expect(firstTimes == [true, true])
        }
    }

    @Test func theSummaryIsTheCallersOwn() async throws {
        try await withRoutes { client, _, tokens in
            let dora = UUID()
            _ = try await client.execute(uri: "/v1/progress/lessons/\(free.lowercased)", method: .put, headers: [.authorization: try await tokens.bearer(for: dora)])
            let mine = try json(try await client.execute(uri: "/v1/progress", method: .get, headers: [.authorization: try await tokens.bearer(for: dora)]))
            #expect(mine["lessonsCompleted"] as? Int == 1)
            #expect(mine["lessonsTotal"] as? Int == 3)
            let theirs = try json(try await client.execute(uri: "/v1/progress", method: .get, headers: [.authorization: try await tokens.bearer(for: UUID())]))
            #expect(theirs["lessonsCompleted"] as? Int == 0)
        }
    }

    @Test func aTaskStatusMustBeOneOfThree() async throws {
        try await withRoutes { client, _, tokens in
            let response = try await client.execute(
                uri: "/v1/progress/tasks/\(UUID().lowercased)", method: .put, headers: [.authorization: try await tokens.bearer()],
                body: ByteBuffer(string: #"{"status":"finished"}"#))
            #expect(response.status == .unprocessableContent)
            let body = try json(response)
            #expect(body["code"] as? String == "validation_failed")
            #expect((body["errors"] as? [[String: String]])?.first?["field"] == "status")
            let unknown = try await client.execute(
                uri: "/v1/progress/tasks/\(UUID().lowercased)", method: .put, headers: [.authorization: try await tokens.bearer()],
                body: ByteBuffer(string: #"{"status":"completed"}"#))
            #expect(unknown.status == .notFound)
        }
    }
}
