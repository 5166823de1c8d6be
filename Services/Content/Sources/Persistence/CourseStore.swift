import Contracts
import CourseRules
import Database
import Foundation
import LearningPlans
import Logging
import ServiceKit

/// The course in the `content` schema: modules, lessons and assets as authors shape them, the
/// published outline as learners see it (announced as `content.course.outline_changed.v1` once a
/// burst of changes to it is over: `OutlineAnnouncing`), and each learner's view of what is open.
///
/// Every authoring change locks the outline row first, so changes are serialised, positions stay
/// gap-free, and announcements follow one another in order.
public struct CourseStore: Sendable {
    let database: DatabasePool
    let logger: Logger
    /// The published outline as last read (and rendered), by the outline's revision.
    let outline = VersionedMemory<KeptOutline>()
    /// When changes are announced.
    let announcing: OutlineAnnouncing

    public init(database: DatabasePool, announcing: OutlineAnnouncing = OutlineAnnouncing(), logger: Logger) {
        self.database = database
        self.announcing = announcing
        self.logger = logger
    }

    // MARK: Shapes

    public struct Asset: Codable, Sendable, Equatable {
        public var id: String
        public var title: String
        public var url: String
        public var type: String
        public var sizeBytes: Int64
    }

    public struct Video: Codable, Sendable, Equatable {
        /// none, uploading, ready or errored.
        public var status: String
        public var assetId: String?
        public var playbackId: String?
        public var error: String?
    }

    /// A lesson as its author sees it.
    public struct Lesson: Codable, Sendable, Equatable {
        public var id: String
        public var moduleId: String
        public var title: String
        public var order: Int
        public var published: Bool
        public var isFree: Bool
        public var durationSeconds: Int?
        public var body: JSONValue
        public var video: Video
        public var assets: [Asset]
    }

    public struct LessonSummary: Codable, Sendable, Equatable {
        public var id: String
        public var title: String
        public var order: Int
        public var published: Bool
        public var isFree: Bool
        public var durationSeconds: Int?
        public var videoStatus: String
    }

    /// A module as its author sees it, unpublished lessons included.
    public struct Module: Codable, Sendable, Equatable {
        public var id: String
        public var title: String
        public var description: String
        public var order: Int
        public var published: Bool
        public var lessons: [LessonSummary]
    }

    // MARK: Reading rows

    static func module(_ row: Row, lessons: [LessonSummary]) throws -> Module {
        Module(
            id: try row.decode("id", as: UUID.self).lowercased, title: try row.decode("title"), description: try row.decode("description"),
            order: try row.decode("position"), published: try row.decode("published"), lessons: lessons)
    }

    static func lessonSummary(_ row: Row) throws -> LessonSummary {
        LessonSummary(
            id: try row.decode("id", as: UUID.self).lowercased, title: try row.decode("title"), order: try row.decode("position"), published: try row.decode("published"),
            isFree: try row.decode("is_free"), durationSeconds: try row.decode("duration_seconds", as: Int?.self),
            videoStatus: try row.decode("video_status"))
    }

    static func lesson(_ row: Row, assets: [Asset]) throws -> Lesson {
        Lesson(
            id: try row.decode("id", as: UUID.self).lowercased, moduleId: try row.decode("module_id", as: UUID.self).lowercased, title: try row.decode("title"),
            order: try row.decode("position"),
            published: try row.decode("published"), isFree: try row.decode("is_free"),
            durationSeconds: try row.decode("duration_seconds", as: Int?.self),
            body: try row.decode("body", as: JSONB.self).decode(JSONValue.self),
            video: Video(
                status: try row.decode("video_status"), assetId: try row.decode("mux_asset_id", as: String?.self),
                playbackId: try row.decode("mux_playback_id", as: String?.self), error: try row.decode("video_error", as: String?.self)),
            assets: assets)
    }

    static func assets(of lessonID: UUID, on connection: PostgresConnection) throws -> [Asset] {
        try connection.query("SELECT * FROM assets WHERE lesson_id = \(lessonID) ORDER BY created_at, id").map {
            Asset(id: try $0.decode("id", as: UUID.self).lowercased, title: try $0.decode("title"), url: try $0.decode("url"), type: try $0.decode("content_type"), sizeBytes: try $0.decode("size_bytes"))
        }
    }

    // MARK: The published outline

    /// A published module with at least one published lesson, and those lessons, in order; with
    /// what learners see beyond the announced outline.
    struct PublishedModule: Sendable {
        var outline: OutlineModule
        var description: String
        /// Lessons whose video can be played.
        var readyVideos: Set<String> = []
    }

    /// The outline learners see: published modules that have at least one published lesson,
    /// numbered 1… among themselves, with their published lessons numbered 1… among themselves.
    static func publishedOutline(on connection: PostgresConnection) throws -> [PublishedModule] {
        let rows = try connection.query(
            """
            SELECT m.id AS module_id, m.title AS module_title, m.description, l.id AS lesson_id, l.title AS lesson_title, l.is_free, l.duration_seconds, l.video_status
            FROM modules m JOIN lessons l ON l.module_id = m.id
            WHERE m.published AND l.published
            ORDER BY m.position, l.position
            """)
        var modules: [PublishedModule] = []
        for row in rows {
            let moduleID: UUID = try row.decode("module_id")
            if modules.last?.outline.id != moduleID.lowercased {
                modules.append(PublishedModule(
                    outline: OutlineModule(id: moduleID.lowercased, title: try row.decode("module_title"), order: modules.count + 1, lessons: []),
                    description: try row.decode("description")))
            }
            let lessonID: UUID = try row.decode("lesson_id")
            let index = modules.count - 1
            modules[index].outline.lessons.append(OutlineLesson(
                id: lessonID.lowercased, title: try row.decode("lesson_title"), order: modules[index].outline.lessons.count + 1,
                isFree: try row.decode("is_free"), durationSeconds: try row.decode("duration_seconds", as: Int?.self)))
            if try row.decode("video_status", as: String.self) == "ready" { modules[index].readyVideos.insert(lessonID.lowercased) }
        }
        return modules
    }

    /// Locks the outline for a change learners may see (call first in the transaction), raises
    /// its revision, so that every replica reads the outline again once this commits, and has the
    /// outline announced once the burst of changes is over.
    static func lockOutline(on connection: PostgresConnection, announcing: OutlineAnnouncing) throws {
        try connection.execute("UPDATE outline SET revision = revision + 1")
        try scheduleAnnouncement(announcing, on: connection)
    }

    /// Announces the published outline if it differs from the one last announced.
    static func announceOutlineIfChanged(on connection: PostgresConnection, now: Date) throws {
        let row = try connection.query("SELECT version, modules FROM outline FOR UPDATE").first!
        let announced = try row.decode("modules", as: JSONB.self).decode([OutlineModule].self)
        let current = try publishedOutline(on: connection).map(\.outline)
        if announced == current { return }
        let version = try row.decode("version", as: Int64.self) + 1
        try connection.execute(
            "UPDATE outline SET version = \(version), modules = \(try JSONB(encoding: current)), updated_at = now()")
        try Outbox.enqueue(CloudEvent(ContentCourseOutlineChangedV1(version: version, modules: current, changedAt: now), sequence: version), on: connection)
    }

    /// Announces the current outline again (same version): a subscriber that is new, or rebuilt its
    /// copy, learns it without waiting for the next change; one that holds it ignores the repeat.
    public func reannounceOutline() async throws {
        try await database.transaction { connection in
            let row = try connection.query("SELECT version, modules, updated_at FROM outline FOR UPDATE").first!
            let version = try row.decode("version", as: Int64.self)
            guard version > 0 else { return }
            let modules = try row.decode("modules", as: JSONB.self).decode([OutlineModule].self)
            try Outbox.enqueue(
                CloudEvent(ContentCourseOutlineChangedV1(version: version, modules: modules, changedAt: try row.decode("updated_at")), sequence: version),
                on: connection)
        }
    }

    /// Runs an authoring change: serialised with every other, the outline announced after the
    /// burst it belongs to.
    func authoring<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        let announcing = announcing
        return try await database.transaction { connection in
            try Self.lockOutline(on: connection, announcing: announcing)
            return try body(connection)
        }
    }

    // MARK: Projections

    /// A learner's module completion from progress (newest state wins).
    static func applyModuleState(userID: String, moduleID: String, completed: Bool, aggregateID: String, sequence: Int64, on connection: PostgresConnection) throws {
        guard let user = UUID(uuidString: userID), let module = UUID(uuidString: moduleID) else { throw ConsumeFailure.undecodable("userId or moduleId") }
        if try Tombstones.isDeleted(user, on: connection) { return }
        guard try AggregateVersions.advance("module_progress", id: aggregateID, to: sequence, on: connection) else { return }
        try connection.execute(
            """
            INSERT INTO module_completions (user_id, module_id, completed) VALUES (\(user), \(module), \(completed))
            ON CONFLICT (user_id, module_id) DO UPDATE SET completed = excluded.completed, updated_at = now()
            """)
    }

    /// Erases what content holds of a deleted user.
    static func forget(_ userID: UUID, on connection: PostgresConnection) throws {
        try Entitlements.forget(userID, on: connection)
        try connection.execute("DELETE FROM module_completions WHERE user_id = \(userID)")
        // The learner's plans go with them, in the same transaction (plans leave the connection
        // in the system scope).
        try PlanStore.forget(userID, on: connection)
        try connection.execute("DELETE FROM aggregate_versions WHERE aggregate = 'module_progress' AND aggregate_id LIKE \(userID.lowercased + "/%")")
    }
}

/// The published outline as kept in memory: a learner's request reads the outline's revision
/// with the learner's own state, and the outline only when the revision moved.
struct KeptOutline: Sendable {
    let modules: [CourseStore.PublishedModule]
    let rendered: RenderedOutline

    init(_ modules: [CourseStore.PublishedModule]) {
        self.modules = modules
        rendered = RenderedOutline(modules)
    }
}
