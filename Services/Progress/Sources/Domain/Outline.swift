import CourseRules
import Foundation

/// The published course as progress keeps it (from `content.course.outline_changed.v1`).
struct Outline: Sendable, Equatable {
    struct Lesson: Sendable, Equatable {
        var id: UUID
        var moduleID: UUID
        var title: String
        var isFree: Bool
    }

    struct Module: Sendable, Equatable {
        var id: UUID
        var title: String
    }

    /// Published modules in order.
    var modules: [Module]
    /// Published lessons in course order.
    var lessons: [Lesson]

    var moduleOrder: [String] { modules.map(\.id.lowercased) }

    func lessons(of module: UUID) -> [Lesson] { lessons.filter { $0.moduleID == module } }

    func lesson(_ id: UUID) -> Lesson? { lessons.first { $0.id == id } }

    /// What roll-ups depend on: the modules in order, and which lessons each holds (titles,
    /// free flags and durations do not change anyone's completion).
    var shape: [UUID] { modules.map(\.id) + lessons.flatMap { [$0.moduleID, $0.id] } }

    func module(after module: UUID) -> UUID? {
        CourseAccess.module(after: module.lowercased, inOrder: moduleOrder).flatMap(UUID.init(uuidString:))
    }
}
