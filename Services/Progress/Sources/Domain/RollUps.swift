import Foundation

/// What progress has recorded of a module's or the course's completion for one learner.
struct CompletionRecord: Sendable, Equatable {
    var completed: Bool
    /// Whether it was ever complete: a second completion is not a first time.
    var everCompleted: Bool

    static let never = CompletionRecord(completed: false, everCompleted: false)

    /// The record once `transition` has happened.
    func after(_ transition: CompletionTransition) -> CompletionRecord {
        switch transition {
        case .completed: CompletionRecord(completed: true, everCompleted: true)
        case .reopened: CompletionRecord(completed: false, everCompleted: everCompleted)
        }
    }
}

/// A change of a module's or the course's completion; each is published as an event.
enum CompletionTransition: Sendable, Equatable {
    case completed(firstTime: Bool)
    case reopened
}

/// The roll-up rules: when a module and the course are complete, and which transition a change
/// of the lessons done (or of the outline) causes.
enum RollUps {
    /// A module is complete while every lesson of it currently published is done; a module with
    /// no published lesson is not part of the course, so not complete.
    static func isComplete(module: UUID, outline: Outline, done: Set<UUID>) -> Bool {
        let lessons = outline.lessons(of: module)
        return !lessons.isEmpty && lessons.allSatisfy { done.contains($0.id) }
    }

    /// The course is complete while every published module is (and it has at least one).
    static func isCourseComplete(outline: Outline, completedModules: Set<UUID>) -> Bool {
        !outline.modules.isEmpty && outline.modules.allSatisfy { completedModules.contains($0.id) }
    }

    /// The transition from what is recorded to what the rule now says, if the two differ.
    static func transition(from record: CompletionRecord, toComplete complete: Bool) -> CompletionTransition? {
        guard record.completed != complete else { return nil }
        return complete ? .completed(firstTime: !record.everCompleted) : .reopened
    }

    /// What an outline change can alter, and for whom.
    struct OutlineChange: Sendable, Equatable {
        /// Modules whose set of published lessons changed (a module added or removed included).
        var modules: Set<UUID>
        /// The lessons those modules held, before and after: a learner who has done one of them,
        /// or has a record of one of the modules, may see a module complete or reopen.
        var lessons: Set<UUID>
        /// Whether the course's set of modules changed: a learner's course may then complete or
        /// reopen without any progress in the modules touched.
        var courseChanged: Bool

        /// A change no learner's roll-ups depend on (titles, free flags, order).
        var isEmpty: Bool { modules.isEmpty && !courseChanged }
    }

    /// The modules and lessons an outline change touched.
    static func change(from before: Outline, to after: Outline) -> OutlineChange {
        func lessonsByModule(_ outline: Outline) -> [UUID: Set<UUID>] {
            Dictionary(grouping: outline.lessons, by: \.moduleID).mapValues { Set($0.map(\.id)) }
        }
        let old = lessonsByModule(before), new = lessonsByModule(after)
        let modules = Set(old.keys).union(new.keys).filter { old[$0] != new[$0] }
        return OutlineChange(
            modules: modules, lessons: modules.reduce(into: Set<UUID>()) { $0.formUnion(old[$1] ?? []); $0.formUnion(new[$1] ?? []) },
            courseChanged: Set(before.modules.map(\.id)) != Set(after.modules.map(\.id)))
    }

    /// The modules whose roll-up an outline change may alter for a learner: every published
    /// module, then those the learner has a record of that are no longer published (they reopen).
    static func modulesToReconcile(outline: Outline, tracked: [UUID]) -> [UUID] {
        let published = outline.modules.map(\.id)
        return published + tracked.filter { !published.contains($0) }
    }
}
