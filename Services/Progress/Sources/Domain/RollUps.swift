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

    /// The modules whose roll-up an outline change may alter for a learner: every published
    /// module, then those the learner has a record of that are no longer published (they reopen).
    static func modulesToReconcile(outline: Outline, tracked: [UUID]) -> [UUID] {
        let published = outline.modules.map(\.id)
        return published + tracked.filter { !published.contains($0) }
    }
}
