import Contracts
import Database
import Foundation
import ServiceKit

/// Authoring: what admins do to the course. Each call is one transaction; problems are answered
/// before anything is written.
extension CourseStore {
    public struct ModuleDraft: Sendable {
        public var title: String
        public var description: String
        public var order: Int?
    }

    public struct ModuleChanges: Sendable {
        public var title: String?
        public var description: String?
    }

    public struct LessonDraft: Sendable {
        public var title: String
        public var body: JSONValue
        public var isFree: Bool
        public var durationSeconds: Int?
        public var order: Int?
    }

    public struct LessonChanges: Sendable {
        public var title: String?
        public var body: JSONValue?
        public var isFree: Bool?
        public var durationSeconds: Int?
    }

    public struct AssetDraft: Sendable {
        public var title: String
        public var url: String
        public var type: String
        public var sizeBytes: Int64
    }

    static let emptyBody: JSONValue = .object(["type": .string("doc"), "content": .array([.object(["type": .string("paragraph")])])])

    // MARK: Reading

    /// The whole course, unpublished items included, in order.
    public func modules() async throws -> [Module] {
        try await database.withConnection { try Self.modules(on: $0) }
    }

    static func modules(on connection: PostgresConnection) throws -> [Module] {
        let lessons = try Dictionary(grouping: connection.query("SELECT * FROM lessons ORDER BY module_id, position")) { row in
            try row.decode("module_id", as: UUID.self)
        }
        return try connection.query("SELECT * FROM modules ORDER BY position").map { row in
            try Self.module(row, lessons: (lessons[try row.decode("id")] ?? []).map(Self.lessonSummary))
        }
    }

    public func module(_ id: UUID) async throws -> Module {
        try await database.withConnection { try Self.module(id, on: $0) }
    }

    static func module(_ id: UUID, on connection: PostgresConnection) throws -> Module {
        guard let row = try connection.query("SELECT * FROM modules WHERE id = \(id)").first else { throw DomainError.notFound("module") }
        let lessons = try connection.query("SELECT * FROM lessons WHERE module_id = \(id) ORDER BY position").map(lessonSummary)
        return try module(row, lessons: lessons)
    }

    public func lesson(_ id: UUID) async throws -> Lesson {
        try await database.withConnection { try Self.lesson(id, on: $0) }
    }

    static func lesson(_ id: UUID, on connection: PostgresConnection) throws -> Lesson {
        guard let row = try connection.query("SELECT * FROM lessons WHERE id = \(id)").first else { throw DomainError.notFound("lesson") }
        return try lesson(row, assets: assets(of: id, on: connection))
    }

    // MARK: Modules

    public func createModule(_ draft: ModuleDraft) async throws -> Module {
        try await authoring { connection in
            let count = try connection.query("SELECT count(*) AS n FROM modules").first!.decode("n", as: Int.self)
            let position = try Self.insertionPosition(draft.order, count: count)
            try connection.execute("UPDATE modules SET position = position + 1 WHERE position >= \(position)")
            let id = UUIDv7.make()
            try connection.execute(
                "INSERT INTO modules (id, title, description, position) VALUES (\(id), \(draft.title), \(draft.description), \(position))")
            return try Self.module(id, on: connection)
        }
    }

    public func updateModule(_ id: UUID, _ changes: ModuleChanges) async throws -> Module {
        try await authoring { connection in
            let updated = try connection.execute(
                """
                UPDATE modules SET title = coalesce(\(changes.title), title), description = coalesce(\(changes.description), description),
                    updated_at = now()
                WHERE id = \(id)
                """)
            guard updated.affectedRows == 1 else { throw DomainError.notFound("module") }
            return try Self.module(id, on: connection)
        }
    }

    /// Deletes a module with its lessons and assets; the modules after it move up.
    public func deleteModule(_ id: UUID) async throws {
        try await authoring { connection in
            guard let row = try connection.query("DELETE FROM modules WHERE id = \(id) RETURNING position").first else {
                throw DomainError.notFound("module")
            }
            try connection.execute("UPDATE modules SET position = position - 1 WHERE position > \(try row.decode("position", as: Int.self))")
        }
    }

    public func setModulePublished(_ id: UUID, _ published: Bool) async throws -> Module {
        try await authoring { connection in
            let updated = try connection.execute("UPDATE modules SET published = \(published), updated_at = now() WHERE id = \(id)")
            guard updated.affectedRows == 1 else { throw DomainError.notFound("module") }
            return try Self.module(id, on: connection)
        }
    }

    /// Puts every module in the given order, atomically.
    public func reorderModules(_ ids: [UUID]) async throws -> [Module] {
        try await authoring { connection in
            let existing = Set(try connection.query("SELECT id FROM modules").map { try $0.decode("id", as: UUID.self) })
            try Self.checkPermutation(ids, of: existing, what: "module")
            try connection.execute("SET CONSTRAINTS modules_position_unique DEFERRED")
            try connection.execute(
                """
                UPDATE modules SET position = x.position, updated_at = now()
                FROM unnest(\(array: ids)) WITH ORDINALITY AS x(id, position) WHERE modules.id = x.id
                """)
            try connection.execute("SET CONSTRAINTS modules_position_unique IMMEDIATE")
            return try Self.modules(on: connection)
        }
    }

    // MARK: Lessons

    public func createLesson(in moduleID: UUID, _ draft: LessonDraft) async throws -> Lesson {
        try await authoring { connection in
            guard try !connection.query("SELECT 1 FROM modules WHERE id = \(moduleID) FOR UPDATE").isEmpty else { throw DomainError.notFound("module") }
            let count = try connection.query("SELECT count(*) AS n FROM lessons WHERE module_id = \(moduleID)").first!.decode("n", as: Int.self)
            let position = try Self.insertionPosition(draft.order, count: count)
            try connection.execute("UPDATE lessons SET position = position + 1 WHERE module_id = \(moduleID) AND position >= \(position)")
            let id = UUIDv7.make()
            try connection.execute(
                """
                INSERT INTO lessons (id, module_id, title, position, is_free, body, duration_seconds)
                VALUES (\(id), \(moduleID), \(draft.title), \(position), \(draft.isFree), \(try JSONB(encoding: draft.body)), \(draft.durationSeconds))
                """)
            return try Self.lesson(id, on: connection)
        }
    }

    public func updateLesson(_ id: UUID, _ changes: LessonChanges) async throws -> Lesson {
        try await authoring { connection in
            let body = try changes.body.map { try JSONB(encoding: $0) }
            let updated = try connection.execute(
                """
                UPDATE lessons SET title = coalesce(\(changes.title), title), body = coalesce(\(body), body),
                    is_free = coalesce(\(changes.isFree), is_free), duration_seconds = coalesce(\(changes.durationSeconds), duration_seconds),
                    updated_at = now()
                WHERE id = \(id)
                """)
            guard updated.affectedRows == 1 else { throw DomainError.notFound("lesson") }
            return try Self.lesson(id, on: connection)
        }
    }

    /// Deletes a lesson and its assets; the lessons after it in its module move up.
    public func deleteLesson(_ id: UUID) async throws {
        try await authoring { connection in
            guard let row = try connection.query("DELETE FROM lessons WHERE id = \(id) RETURNING module_id, position").first else {
                throw DomainError.notFound("lesson")
            }
            try connection.execute(
                """
                UPDATE lessons SET position = position - 1
                WHERE module_id = \(try row.decode("module_id", as: UUID.self)) AND position > \(try row.decode("position", as: Int.self))
                """)
        }
    }

    /// Publishing a lesson needs its module published first (unpublishing a module hides its
    /// lessons without changing them).
    public func setLessonPublished(_ id: UUID, _ published: Bool) async throws -> Lesson {
        try await authoring { connection in
            guard let row = try connection.query(
                "SELECT m.published FROM lessons l JOIN modules m ON m.id = l.module_id WHERE l.id = \(id)").first
            else { throw DomainError.notFound("lesson") }
            if published, !(try row.decode("published", as: Bool.self)) {
                throw DomainError(.conflict, code: "module_unpublished", title: "Publish the lesson's module first")
            }
            try connection.execute("UPDATE lessons SET published = \(published), updated_at = now() WHERE id = \(id)")
            return try Self.lesson(id, on: connection)
        }
    }

    /// Puts every lesson of a module in the given order, atomically.
    public func reorderLessons(in moduleID: UUID, _ ids: [UUID]) async throws -> Module {
        try await authoring { connection in
            guard try !connection.query("SELECT 1 FROM modules WHERE id = \(moduleID)").isEmpty else { throw DomainError.notFound("module") }
            let existing = Set(try connection.query("SELECT id FROM lessons WHERE module_id = \(moduleID)").map { try $0.decode("id", as: UUID.self) })
            try Self.checkPermutation(ids, of: existing, what: "lesson")
            try connection.execute("SET CONSTRAINTS lessons_position_unique DEFERRED")
            try connection.execute(
                """
                UPDATE lessons SET position = x.position, updated_at = now()
                FROM unnest(\(array: ids)) WITH ORDINALITY AS x(id, position) WHERE lessons.id = x.id
                """)
            try connection.execute("SET CONSTRAINTS lessons_position_unique IMMEDIATE")
            return try Self.module(moduleID, on: connection)
        }
    }

    // MARK: Assets

    public func addAsset(to lessonID: UUID, _ draft: AssetDraft) async throws -> Asset {
        try await authoring { connection in
            guard try !connection.query("SELECT 1 FROM lessons WHERE id = \(lessonID) FOR UPDATE").isEmpty else { throw DomainError.notFound("lesson") }
            let count = try connection.query("SELECT count(*) AS n FROM assets WHERE lesson_id = \(lessonID)").first!.decode("n", as: Int.self)
            guard count < 50 else { throw DomainError(.conflict, code: "too_many_assets", title: "A lesson holds at most 50 assets") }
            let id = UUIDv7.make()
            try connection.execute(
                """
                INSERT INTO assets (id, lesson_id, title, url, content_type, size_bytes)
                VALUES (\(id), \(lessonID), \(draft.title), \(draft.url), \(draft.type), \(draft.sizeBytes))
                """)
            return Asset(id: id.lowercased, title: draft.title, url: draft.url, type: draft.type, sizeBytes: draft.sizeBytes)
        }
    }

    public func deleteAsset(_ assetID: UUID, of lessonID: UUID) async throws {
        try await authoring { connection in
            let deleted = try connection.execute("DELETE FROM assets WHERE id = \(assetID) AND lesson_id = \(lessonID)")
            guard deleted.affectedRows == 1 else { throw DomainError.notFound("asset") }
        }
    }

    // MARK: Rules

    /// Where a new item goes: at `order` (the ones from there move down) or last.
    static func insertionPosition(_ order: Int?, count: Int) throws -> Int {
        guard let order else { return count + 1 }
        guard (1...count + 1).contains(order) else {
            throw DomainError.validation([FieldError(field: "order", code: "out_of_range", message: "order must be from 1 to \(count + 1).")])
        }
        return order
    }

    /// A reorder names every item exactly once.
    static func checkPermutation(_ ids: [UUID], of existing: Set<UUID>, what: String) throws {
        var seen: Set<UUID> = []
        var errors: [FieldError] = []
        for (index, id) in ids.enumerated() {
            if !seen.insert(id).inserted {
                errors.append(FieldError(field: "ids[\(index)]", code: "duplicate_order", message: "This \(what) is named twice."))
            } else if !existing.contains(id) {
                errors.append(FieldError(field: "ids[\(index)]", code: "unknown_id", message: "No such \(what) here."))
            }
        }
        let missing = existing.subtracting(seen)
        if !missing.isEmpty {
            errors.append(FieldError(field: "ids", code: "incomplete_order", message: "Every \(what) must be named; \(missing.count) missing."))
        }
        if !errors.isEmpty { throw DomainError.validation(errors) }
    }
}
