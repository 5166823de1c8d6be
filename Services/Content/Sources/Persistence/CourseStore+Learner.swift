import Contracts
import CourseRules
import Database
import Foundation
import ServiceKit

/// What a signed-in learner sees: the published outline with what is open to them and why not,
/// and the lessons they may open.
extension CourseStore {
    public struct LearnerLesson: Codable, Sendable, Equatable {
        public var id: String
        public var title: String
        public var order: Int
        public var isFree: Bool
        public var durationSeconds: Int?
        public var hasVideo: Bool
        public var unlocked: Bool
        /// Why not, when locked: subscription_required or module_locked.
        public var lockReason: LessonLock?
    }

    public struct LearnerModule: Codable, Sendable, Equatable {
        public var id: String
        public var title: String
        public var description: String
        public var order: Int
        public var unlocked: Bool
        public var completed: Bool
        public var lessons: [LearnerLesson]
    }

    public struct LearnerCourse: Codable, Sendable, Equatable {
        public var hasAccess: Bool
        public var tier: String
        public var modules: [LearnerModule]
    }

    public struct LessonContent: Codable, Sendable, Equatable {
        public var id: String
        public var moduleId: String
        public var title: String
        public var order: Int
        public var isFree: Bool
        public var durationSeconds: Int?
        public var hasVideo: Bool
        public var body: JSONValue
        public var assets: [Asset]
    }

    /// What is open to a learner: their entitlement, and the modules unlocked and complete.
    struct Gate {
        var entitlement: Entitlements.Entitlement
        var completed: Set<String>
        var unlocked: Set<String>

        init(entitlement: Entitlements.Entitlement, completed: Set<String>, modules: [PublishedModule]) {
            self.entitlement = entitlement
            self.completed = completed
            unlocked = CourseAccess.unlockedModules(inOrder: modules.map(\.outline.id), completed: completed)
        }

        func lock(_ lesson: OutlineLesson, in module: OutlineModule) -> LessonLock? {
            CourseAccess.lock(isFree: lesson.isFree, hasAccess: entitlement.hasAccess, moduleUnlocked: unlocked.contains(module.id))
        }
    }

    /// The learner's course as JSON, assembled from the outline rendered once per revision and
    /// the learner's gate: the same bytes `JSONResponse` would write for `course(for:)`.
    public func courseJSON(for user: UUID) async throws -> [UInt8] {
        try await database.withConnection { connection in
            let (outline, gate) = try learnerView(for: user, on: connection)
            return outline.rendered.json(for: gate)
        }
    }

    /// The published outline and what of it is open to `user`: the learner's state and the
    /// outline's revision in one query, the outline itself from memory while its revision holds.
    func learnerView(for user: UUID, on connection: PostgresConnection) throws -> (outline: KeptOutline, gate: Gate) {
        let row = try connection.query(
            """
            SELECT (SELECT revision FROM outline) AS revision, e.has_access, e.tier,
                   (SELECT string_agg(module_id::text, ',') FROM module_completions WHERE user_id = \(user) AND completed) AS completed
            FROM (SELECT 1) AS one LEFT JOIN entitlements e ON e.user_id = \(user)
            """
        ).first!
        let outline = try self.outline.value(at: try row.decode("revision", as: Int64.self)) {
            KeptOutline(try Self.publishedOutline(on: connection))
        }
        let entitlement: Entitlements.Entitlement =
            if let hasAccess = try row.decode("has_access", as: Bool?.self) {
                Entitlements.Entitlement(hasAccess: hasAccess, tier: try row.decode("tier", as: String.self))
            } else {
                .none
            }
        let completed = Set((try row.decode("completed", as: String?.self) ?? "").split(separator: ",").map(String.init))
        return (outline, Gate(entitlement: entitlement, completed: completed, modules: outline.modules))
    }

    public func course(for user: UUID) async throws -> LearnerCourse {
        try await database.withConnection { connection in
            let (outline, gate) = try learnerView(for: user, on: connection)
            let modules = outline.modules
            return LearnerCourse(
                hasAccess: gate.entitlement.hasAccess, tier: gate.entitlement.tier,
                modules: modules.map { module in
                    LearnerModule(
                        id: module.outline.id, title: module.outline.title, description: module.description, order: module.outline.order,
                        unlocked: gate.unlocked.contains(module.outline.id), completed: gate.completed.contains(module.outline.id),
                        lessons: module.outline.lessons.map { lesson in
                            let lock = gate.lock(lesson, in: module.outline)
                            return LearnerLesson(
                                id: lesson.id, title: lesson.title, order: lesson.order, isFree: lesson.isFree, durationSeconds: lesson.durationSeconds,
                                hasVideo: module.readyVideos.contains(lesson.id), unlocked: lock == nil, lockReason: lock)
                        })
                })
        }
    }

    /// A lesson's body and assets, if it is published and open to the learner; else 404 or 403
    /// with the reason as the problem's code.
    public func openLesson(_ id: UUID, for user: UUID) async throws -> LessonContent {
        try await database.withConnection { connection in
            let (module, lesson) = try openPublishedLesson(id, for: user, on: connection)
            let full = try Self.lesson(id, on: connection)
            return LessonContent(
                id: lesson.id, moduleId: module.outline.id, title: lesson.title, order: lesson.order, isFree: lesson.isFree,
                durationSeconds: lesson.durationSeconds, hasVideo: module.readyVideos.contains(lesson.id), body: full.body, assets: full.assets)
        }
    }

    /// The playback id of an open lesson's ready video.
    public func playbackID(of id: UUID, for user: UUID) async throws -> String {
        try await database.withConnection { connection in
            _ = try openPublishedLesson(id, for: user, on: connection)
            let video = try Self.lesson(id, on: connection).video
            guard video.status == "ready", let playbackID = video.playbackId else {
                throw DomainError(.conflict, code: "video_not_ready", title: "This lesson has no playable video yet")
            }
            return playbackID
        }
    }

    func openPublishedLesson(_ id: UUID, for user: UUID, on connection: PostgresConnection) throws -> (PublishedModule, OutlineLesson) {
        let (outline, gate) = try learnerView(for: user, on: connection)
        let key = id.lowercased
        for module in outline.modules {
            guard let lesson = module.outline.lessons.first(where: { $0.id == key }) else { continue }
            if let lock = gate.lock(lesson, in: module.outline) {
                throw Self.lockedError(lock)
            }
            return (module, lesson)
        }
        throw DomainError.notFound("lesson")
    }

    static func lockedError(_ lock: LessonLock) -> DomainError {
        switch lock {
        case .subscriptionRequired:
            DomainError(.forbidden, code: lock.rawValue, title: "This lesson needs a subscription", detail: "Subscribe to open every lesson of the course.")
        case .moduleLocked:
            DomainError(.forbidden, code: lock.rawValue, title: "This lesson's module is locked", detail: "Complete the previous module to unlock it.")
        }
    }
}
