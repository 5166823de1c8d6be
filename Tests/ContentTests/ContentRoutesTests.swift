import Contracts
import Database
import Foundation
import Hummingbird
import HummingbirdTesting
import LearningPlans
import ServiceKit
import ServiceTesting
import TestSupport
import Testing

@testable import Content

/// Content's routes in process over a schema of their own: the course as admins shape it and
/// learners read it, and the learning plans served beside it.
@Suite struct ContentRoutesTests {
    /// The router as the service builds it (no video, offline plans), a client, and the pool.
    func withContent(
        _ body: @escaping @Sendable (any TestClientProtocol, TestTokens, DatabasePool) async throws -> Void
    ) async throws {
        let tokens = try await TestTokens()
        try await withMigratedSchema(ContentMigrations.all) { pool, _ in
            let router = buildContentRouter(ContentDependencies(database: pool, verifier: tokens.verifier, logger: TestEnvironment.logger))
            try await Application(router: router).test(.router) { client in try await body(client, tokens, pool) }
        }
    }

    static func json(_ value: [String: Any]) -> ByteBuffer {
        ByteBuffer(data: try! JSONSerialization.data(withJSONObject: value))
    }

    static func object(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
    }

    static var paragraph: [String: Any] { ["type": "doc", "content": [["type": "paragraph", "content": [["type": "text", "text": "Hello"]]]]] }

    /// Creates and publishes a module with one lesson (free or not) through the admin routes.
    func publishModule(
        _ title: String, lesson: String, free: Bool, admin: String, client: some TestClientProtocol
    ) async throws -> (module: String, lesson: String) {
        let module = try await client.execute(
            uri: "/v1/content/admin/modules", method: .post, headers: [.authorization: admin],
            body: Self.json(["title": title, "description": "About \(title)"]))
        #expect(module.status == .created)
        let moduleID = try #require(try Self.object(module)["id"] as? String)
        let created = try await client.execute(
            uri: "/v1/content/admin/modules/\(moduleID)/lessons", method: .post, headers: [.authorization: admin],
            body: Self.json(["title": lesson, "body": Self.paragraph, "isFree": free, "durationSeconds": 300]))
        #expect(created.status == .created)
        let lessonID = try #require(try Self.object(created)["id"] as? String)
        #expect(try await client.execute(uri: "/v1/content/admin/modules/\(moduleID)/publish", method: .post, headers: [.authorization: admin]).status == .ok)
        #expect(try await client.execute(uri: "/v1/content/admin/lessons/\(lessonID)/publish", method: .post, headers: [.authorization: admin]).status == .ok)
        return (moduleID, lessonID)
    }

    /// Rows of plans' tables, read in the system scope (row-level security hides them otherwise).
    func system(_ pool: DatabasePool, _ query: Query) async throws -> [Row] {
        try await pool.transaction { connection in
            try RowSecurity.enterSystem(on: connection)
            return try connection.query(query)
        }
    }

    func outlineEvents(_ pool: DatabasePool) async throws -> [Int64] {
        try await pool.query("SELECT sequence FROM outbox WHERE routing_key = \(ContentCourseOutlineChangedV1.eventType.routingKey) ORDER BY id")
            .map { try $0.decode("sequence", as: Int64.self) }
    }

    // MARK: Authoring and the outline

    @Test func anAdminPublishesAModuleAndLessonAndTheOutlineIsAnnounced() async throws {
        try await withContent { client, tokens, pool in
            let admin = try await tokens.bearer(role: "ADMIN")
            let learner = try await tokens.bearer()
            #expect(try await outlineEvents(pool).isEmpty)

            let module = try await client.execute(
                uri: "/v1/content/admin/modules", method: .post, headers: [.authorization: admin], body: Self.json(["title": "  Basics  "]))
            #expect(module.status == .created)
            let moduleBody = try Self.object(module)
            #expect(moduleBody["title"] as? String == "Basics" && moduleBody["published"] as? Bool == false && moduleBody["order"] as? Int == 1)
            let moduleID = try #require(moduleBody["id"] as? String)
            let lesson = try await client.execute(
                uri: "/v1/content/admin/modules/\(moduleID)/lessons", method: .post, headers: [.authorization: admin],
                body: Self.json(["title": "First steps", "body": Self.paragraph, "isFree": true]))
            #expect(lesson.status == .created)
            let lessonID = try #require(try Self.object(lesson)["id"] as? String)
            let store = CourseStore(database: pool, logger: TestEnvironment.logger)
            try await store.announceDueOutline(now: true)
            #expect(try await outlineEvents(pool).isEmpty, "nothing published: the learners' outline has not changed")

            // A lesson waits for its module.
            let early = try await client.execute(uri: "/v1/content/admin/lessons/\(lessonID)/publish", method: .post, headers: [.authorization: admin])
            #expect(try early.status == .conflict && (try Self.object(early)["code"] as? String) == "module_unpublished")

            #expect(try await client.execute(uri: "/v1/content/admin/modules/\(moduleID)/publish", method: .post, headers: [.authorization: admin]).status == .ok)
            let published = try await client.execute(uri: "/v1/content/admin/lessons/\(lessonID)/publish", method: .post, headers: [.authorization: admin])
            #expect(try published.status == .ok && (try Self.object(published)["published"] as? Bool) == true)
            #expect(try await outlineEvents(pool).isEmpty, "announced once the burst of changes is over, not with each")
            try await store.announceDueOutline(now: true)
            #expect(try await outlineEvents(pool) == [1], "one announcement: the lesson made the module visible")

            let outline = try await client.execute(uri: "/v1/course", method: .get, headers: [.authorization: learner])
            #expect(outline.status == .ok)
            let course = try Self.object(outline)
            #expect(course["hasAccess"] as? Bool == false && course["tier"] as? String == "free")
            let modules = try #require(course["modules"] as? [[String: Any]])
            #expect(modules.map { $0["id"] as? String } == [moduleID])
            let lessons = try #require(modules[0]["lessons"] as? [[String: Any]])
            #expect(lessons.map { $0["id"] as? String } == [lessonID] && lessons[0]["unlocked"] as? Bool == true)

            let read = try await client.execute(uri: "/v1/lessons/\(lessonID)", method: .get, headers: [.authorization: learner])
            #expect(try read.status == .ok && (try Self.object(read)["title"] as? String) == "First steps")
        }
    }

    /// A burst of authoring is announced once, with the whole outline, when it has been quiet for
    /// a while; a burst that never pauses is announced at most `maxDelay` after it began.
    @Test func aBurstOfChangesIsAnnouncedOnceWhenItIsOver() async throws {
        let tokens = try await TestTokens()
        try await withMigratedSchema(ContentMigrations.all) { pool, _ in
            let announcing = OutlineAnnouncing(quiet: .seconds(60), maxDelay: .seconds(90))
            let settings = ContentSettings(outline: announcing)
            let router = buildContentRouter(ContentDependencies(database: pool, verifier: tokens.verifier, settings: settings, logger: TestEnvironment.logger))
            try await Application(router: router).test(.router) { client in
                let admin = try await tokens.bearer(role: "ADMIN")
                let store = CourseStore(database: pool, announcing: announcing, logger: TestEnvironment.logger)
                var published: [String] = []
                for n in 1...3 { published.append(try await publishModule("Module \(n)", lesson: "Lesson \(n)", free: true, admin: admin, client: client).module) }

                let wait = try #require(try await store.announceDueOutline(), "an announcement is pending")
                #expect(wait > .seconds(50) && wait <= .seconds(60), "due a quiet minute after the last change: \(wait)")
                #expect(try await outlineEvents(pool).isEmpty, "nothing announced while the burst may go on")
                let window = try await pool.query(
                    "SELECT extract(epoch FROM announce_due_at - burst_started_at)::float8 AS span FROM outline").first!.decode("span", as: Double.self)
                #expect(window <= 90, "never later than the longest delay after the burst began")

                try await store.announceDueOutline(now: true)
                #expect(try await outlineEvents(pool) == [1], "a dozen changes, one event")
                let body = try await pool.query("SELECT body FROM outbox WHERE routing_key = \(ContentCourseOutlineChangedV1.eventType.routingKey)").first!
                    .decode("body", as: String.self)
                let event = try EventCoding.decode(CloudEvent<ContentCourseOutlineChangedV1>.self, from: Array(body.utf8))
                #expect(event.data.modules.map(\.id) == published, "the event carries the whole outline")
                #expect(try await store.announceDueOutline() == nil, "nothing pending once announced")
            }
        }
    }

    /// Each replica keeps the published outline in memory by its revision: a change made through
    /// another replica (here its store, over the same schema) is what the next read shows.
    @Test func anOutlineChangedThroughAnotherReplicaIsWhatTheNextReadShows() async throws {
        try await withContent { client, tokens, pool in
            let admin = try await tokens.bearer(role: "ADMIN")
            let learner = try await tokens.bearer()
            let other = CourseStore(database: pool, logger: TestEnvironment.logger)
            let first = try await publishModule("Basics", lesson: "First steps", free: true, admin: admin, client: client)
            func titles() async throws -> [String] {
                let response = try await client.execute(uri: "/v1/course", method: .get, headers: [.authorization: learner])
                let modules = try #require(try Self.object(response)["modules"] as? [[String: Any]])
                return modules.flatMap { ($0["lessons"] as? [[String: Any]] ?? []).compactMap { $0["title"] as? String } }
            }
            #expect(try await titles() == ["First steps"])
            #expect(try await titles() == ["First steps"], "read again, from memory")
            var changes = CourseStore.LessonChanges()
            changes.title = "Getting started"
            _ = try await other.updateLesson(try #require(UUID(uuidString: first.lesson)), changes)
            #expect(try await titles() == ["Getting started"])
            _ = try await other.setLessonPublished(try #require(UUID(uuidString: first.lesson)), false)
            #expect(try await titles() == [])
        }
    }

    @Test func unpublishedItemsStayOutOfTheOutline() async throws {
        try await withContent { client, tokens, pool in
            let admin = try await tokens.bearer(role: "ADMIN")
            _ = try await client.execute(uri: "/v1/content/admin/modules", method: .post, headers: [.authorization: admin], body: Self.json(["title": "Draft"]))
            let outline = try await client.execute(uri: "/v1/course", method: .get, headers: [.authorization: try await tokens.bearer()])
            #expect(try outline.status == .ok && (try Self.object(outline)["modules"] as? [Any])?.isEmpty == true)
            let all = try await client.execute(uri: "/v1/content/admin/modules", method: .get, headers: [.authorization: admin])
            #expect(((try Self.object(all)["modules"] as? [[String: Any]])?.map { $0["title"] as? String }) == ["Draft"])
        }
    }

    // MARK: Locks

    @Test func lockedLessonsAre403WithTheirReason() async throws {
        try await withContent { client, tokens, pool in
            let admin = try await tokens.bearer(role: "ADMIN")
            let first = try await publishModule("One", lesson: "Paid", free: false, admin: admin, client: client)
            let second = try await publishModule("Two", lesson: "Later", free: false, admin: admin, client: client)
            let ada = UUID()
            let learner = try await tokens.bearer(for: ada)

            let paid = try await client.execute(uri: "/v1/lessons/\(first.lesson)", method: .get, headers: [.authorization: learner])
            #expect(paid.status == .forbidden)
            #expect(try Self.object(paid)["code"] as? String == "subscription_required")
            let playback = try await client.execute(uri: "/v1/lessons/\(first.lesson)/playback", method: .get, headers: [.authorization: learner])
            #expect(try playback.status == .forbidden && (try Self.object(playback)["code"] as? String) == "subscription_required", "the lock is checked before video")

            // With access, the first module opens and the second waits for it.
            _ = try await pool.transaction { connection in
                try connection.execute("INSERT INTO entitlements (user_id, has_access, tier) VALUES (\(ada), true, 'pro')")
            }
            #expect(try await client.execute(uri: "/v1/lessons/\(first.lesson)", method: .get, headers: [.authorization: learner]).status == .ok)
            let later = try await client.execute(uri: "/v1/lessons/\(second.lesson)", method: .get, headers: [.authorization: learner])
            #expect(try later.status == .forbidden && (try Self.object(later)["code"] as? String) == "module_locked")
            let unknown = try await client.execute(uri: "/v1/lessons/\(UUID())", method: .get, headers: [.authorization: learner])
            #expect(unknown.status == .notFound)
        }
    }

    // MARK: Validation

    @Test func invalidAuthoringInputIs422NamingEveryField() async throws {
        try await withContent { client, tokens, pool in
            let admin = try await tokens.bearer(role: "ADMIN")
            let refused = try await client.execute(
                uri: "/v1/content/admin/modules", method: .post, headers: [.authorization: admin],
                body: Self.json(["title": "", "description": String(repeating: "x", count: 2001), "order": 0]))
            #expect(refused.status == .unprocessableContent)
            let problem = try Self.object(refused)
            #expect(problem["code"] as? String == "validation_failed")
            let fields = (problem["errors"] as? [[String: Any]])?.compactMap { $0["field"] as? String }
            #expect(fields == ["title", "description", "order"])
            #expect(try await pool.query("SELECT 1 FROM modules").isEmpty, "nothing written")

            let video = try await client.execute(uri: "/v1/content/webhooks/mux", method: .post, headers: [:], body: ByteBuffer(string: "{}"))
            #expect(try video.status == .serviceUnavailable && (try Self.object(video)["code"] as? String) == "video_unavailable")
        }
    }

    @Test func aLearnerCannotAuthor() async throws {
        try await withContent { client, tokens, _ in
            let refused = try await client.execute(
                uri: "/v1/content/admin/modules", method: .post, headers: [.authorization: try await tokens.bearer()], body: Self.json(["title": "Mine"]))
            #expect(try refused.status == .forbidden && (try Self.object(refused)["code"] as? String) == "admin_only")
        }
    }

    // MARK: Plans

    @Test func aPlanIsCreatedListedReadAndDeleted() async throws {
        try await withContent { client, tokens, pool in
            let ada = UUID()
            let learner = try await tokens.bearer(for: ada)
            let created = try await client.execute(
                uri: "/v1/plans", method: .post, headers: [.authorization: learner],
                body: Self.json(["topic": " Swift concurrency ", "skillLevel": "intermediate", "weeklyHours": 5, "learningStyle": "mixed", "startDate": "2031-05-12"]))
            #expect(created.status == .created)
            let plan = try Self.object(created)
            #expect(plan["topic"] as? String == "Swift concurrency" && plan["generationStatus"] as? String == "generating" && plan["startDate"] as? String == "2031-05-12")
            let id = try #require(plan["id"] as? String)

            let listed = try await client.execute(uri: "/v1/plans", method: .get, headers: [.authorization: learner])
            #expect(listed.status == .ok)
            #expect(((try Self.object(listed)["plans"] as? [[String: Any]])?.map { $0["id"] as? String }) == [id])
            // Another learner's view is row-level security's, as the service's own role: see
            // PlanTests (this schema's owner is not held to it).
            let read = try await client.execute(uri: "/v1/plans/\(id)", method: .get, headers: [.authorization: learner])
            #expect(try read.status == .ok && (try Self.object(read)["skillLevel"] as? String) == "intermediate")

            // Queued for the worker, counted against the month.
            let queued = try await system(pool, "SELECT type, status FROM job_queue WHERE plan_id = \(UUID(uuidString: id)!)")
            #expect(try queued.map { "\(try $0.decode("type", as: String.self)) \(try $0.decode("status", as: String.self))" } == ["plan_generation pending"])
            let usage = try await system(pool, "SELECT plans_created, generations FROM usage_metrics WHERE user_id = \(ada)")
            #expect(try usage.map { [try $0.decode("plans_created", as: Int.self), try $0.decode("generations", as: Int.self)] } == [[1, 1]])

            let deleted = try await client.execute(uri: "/v1/plans/\(id)", method: .delete, headers: [.authorization: learner])
            #expect(deleted.status == .noContent)
            let events = try await pool.query("SELECT routing_key FROM outbox WHERE routing_key = \(ContentPlanDeletedV1.eventType.routingKey)")
            #expect(events.count == 1)
        }
    }

    @Test func anInvalidPlanRequestIs422() async throws {
        try await withContent { client, tokens, pool in
            let refused = try await client.execute(
                uri: "/v1/plans", method: .post, headers: [.authorization: try await tokens.bearer()],
                body: Self.json(["topic": "", "skillLevel": "expert", "weeklyHours": 100, "learningStyle": "mixed", "startDate": "2031-02-30"]))
            #expect(refused.status == .unprocessableContent)
            let problem = try Self.object(refused)
            #expect(problem["code"] as? String == "validation_failed")
            let fields = Set((problem["errors"] as? [[String: Any]])?.compactMap { $0["field"] as? String } ?? [])
            #expect(fields == ["topic", "skillLevel", "weeklyHours", "startDate"])
            #expect(try await system(pool, "SELECT 1 FROM learning_plans").isEmpty)
        }
    }

    @Test func theFreeTiersFourthActivePlanIsRefusedWithItsLimit() async throws {
        try await withContent { client, tokens, _ in
            let learner = try await tokens.bearer()
            let request = Self.json(["topic": "Rust", "skillLevel": "beginner", "weeklyHours": 3, "learningStyle": "reading"])
            for _ in 0..<3 {
                #expect(try await client.execute(uri: "/v1/plans", method: .post, headers: [.authorization: learner], body: request).status == .created)
            }
            let refused = try await client.execute(uri: "/v1/plans", method: .post, headers: [.authorization: learner], body: request)
            #expect(refused.status == .forbidden)
            let problem = try Self.object(refused)
            #expect(problem["code"] as? String == "quota_exceeded" && (problem["limit"] as? NSNumber)?.intValue == 3)
        }
    }

    @Test func theCalendarFeedIsOpenButAnUnknownTokenIs404() async throws {
        try await withContent { client, _, _ in
            let feed = try await client.execute(uri: "/v1/calendar-feeds/\(String(repeating: "a", count: 43)).ics", method: .get, headers: [:])
            #expect(try feed.status == .notFound && (try Self.object(feed)["code"] as? String) == "not_found")
            let anonymous = try await client.execute(uri: "/v1/plans", method: .get, headers: [:])
            #expect(anonymous.status == .unauthorized)
        }
    }
}

/// `/v1/course` is assembled from the outline rendered once per revision: byte for byte what the
/// responses' encoder writes for the same course, in every state a learner can be in.
@Suite struct RenderedCourseTests {
    @Test func theAssembledCourseIsWhatTheEncoderWrites() async throws {
        try await withMigratedSchema(ContentMigrations.all) { pool, _ in
            let store = CourseStore(database: pool, logger: TestEnvironment.logger)
            let doc = JSONValue.object(["type": .string("doc"), "content": .array([])])
            var published: [(module: UUID, lessons: [UUID])] = []
            for (m, title) in ["Basics \"quoted\" / slashed", "Zweites Modul — ü"].enumerated() {
                let module = try await store.createModule(.init(title: title, description: "About <\(m)> & more\nlines", order: nil))
                let moduleID = try #require(UUID(uuidString: module.id))
                var lessons: [UUID] = []
                for (l, free) in [true, false].enumerated() {
                    let lesson = try await store.createLesson(
                        in: moduleID, .init(title: "Lesson \(m).\(l) \u{1F600} \\ tab\t", body: doc, isFree: free, durationSeconds: l == 0 ? 90 : nil, order: nil))
                    lessons.append(try #require(UUID(uuidString: lesson.id)))
                }
                _ = try await store.setModulePublished(moduleID, true)
                for lesson in lessons { _ = try await store.setLessonPublished(lesson, true) }
                published.append((moduleID, lessons))
            }
            try await pool.execute("UPDATE lessons SET video_status = 'ready' WHERE id = \(published[0].lessons[1])")
            _ = try await store.updateLesson(published[0].lessons[0], .init(title: "Renamed", body: nil, isFree: nil, durationSeconds: nil))

            let plain = UUID(), subscriber = UUID(), advanced = UUID()
            try await pool.execute("INSERT INTO entitlements (user_id, has_access, tier) VALUES (\(subscriber), true, 'pro'), (\(advanced), true, 'starter')")
            try await pool.execute("INSERT INTO module_completions (user_id, module_id, completed) VALUES (\(advanced), \(published[0].module), true)")
            for user in [plain, subscriber, advanced] {
                let expected = try JSONResponse<CourseStore.LearnerCourse>.encoder.encode(try await store.course(for: user))
                let assembled = try await store.courseJSON(for: user)
                #expect(String(decoding: assembled, as: UTF8.self) == String(decoding: expected, as: UTF8.self))
            }
        }
    }
}
