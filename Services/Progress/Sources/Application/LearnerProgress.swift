import Contracts
import Database
import Foundation
import Logging
import ServiceKit

/// Progress's use cases: what a learner does (start, complete and undo lessons, set plan tasks,
/// read their summaries) and what progress does with the events it consumes (a new outline, a
/// plan, a deleted user). Each runs in one transaction: it loads through `ProgressRecords`,
/// decides by the rules in `Domain/`, saves, and publishes each transition through the outbox.
///
/// Learner rows are under row-level security: a request works inside `asLearner`, where Postgres
/// shows and accepts that learner's rows only; event handlers work as the system. Within a
/// learner's transaction the learner's course row is locked first, so a learner's completions
/// are applied one at a time and each transition is published exactly once.
public struct LearnerProgress: Sendable {
    let database: DatabasePool
    let logger: Logger
    /// The outline as last read, by its version.
    let outlineMemory = VersionedMemory<Outline>()

    public init(database: DatabasePool, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    /// Runs `body` in one transaction that sees and writes only `user`'s progress rows.
    public func asLearner<T: Sendable>(_ user: UUID, _ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await database.transaction(asLearner: user, body)
    }

    /// A learner's change: the outline is held steady (a new one waits for it, and it for a new
    /// one being applied, so no change is computed against an outline being replaced), then the
    /// learner's course row is locked.
    func changing<T: Sendable>(_ user: UUID, _ body: @escaping @Sendable (PostgresConnection, Outline) throws -> T) async throws -> T {
        let memory = outlineMemory
        return try await asLearner(user) { connection in
            let version = try ProgressRecords.holdOutline(on: connection)
            try ProgressRecords.lockCourse(of: user, on: connection)
            return try body(connection, try ProgressRecords.outline(at: version, memory: memory, on: connection))
        }
    }

    // MARK: Events consumed

    /// Replaces the outline with a newer one. The learners whose roll-ups it can change (those
    /// with progress in the modules it touched; every learner with a completion when the course
    /// gained or lost a module) are brought in line with it afterwards, a batch at a time
    /// (`reconcileBatch`): the outline is held exclusively only while it is replaced.
    static func applyOutline(_ event: CloudEvent<ContentCourseOutlineChangedV1>, on connection: PostgresConnection) throws {
        try RowSecurity.enterSystem(on: connection)
        guard try ProgressRecords.advanceOutline(to: event.data.version, on: connection) else { return }
        let before = try ProgressRecords.outline(on: connection)
        try ProgressRecords.replaceOutline(with: event.data.modules, on: connection)
        let change = RollUps.change(from: before, to: try ProgressRecords.outline(on: connection))
        // A renamed lesson, a new free flag or a new order leaves every learner's roll-ups as they were.
        guard !change.isEmpty else { return }
        try ProgressRecords.awaitReconcile(change, changedAt: event.data.changedAt, on: connection)
    }

    /// Brings up to `limit` learners waiting for a new outline in line with it, in one
    /// transaction that holds the outline steady (a newer outline waits for the batch, not for
    /// every learner). Returns whether more may be waiting.
    public func reconcileBatch(limit: Int = 100) async throws -> Bool {
        let memory = outlineMemory
        return try await database.transaction { connection in
            try RowSecurity.enterSystem(on: connection)
            let version = try ProgressRecords.holdOutline(on: connection)
            let waiting = try ProgressRecords.awaitingReconcile(limit: limit, on: connection)
            guard !waiting.isEmpty else { return false }
            let outline = try ProgressRecords.outline(at: version, memory: memory, on: connection)
            for learner in waiting {
                try Self.reconcile(learner.user, with: outline, now: learner.changedAt, on: connection)
            }
            try ProgressRecords.reconciled(waiting.map(\.user), on: connection)
            return waiting.count == limit
        }
    }

    /// The worker that reconciles learners with a new outline, woken when one is applied.
    func reconciler(listenURL: String) -> DrainingWorker {
        DrainingWorker("outline-reconciler", channel: ProgressRecords.reconcileChannel, listenURL: listenURL, idle: .seconds(5), logger: logger) {
            try await reconcileBatch()
        }
    }

    /// Brings one learner's module and course roll-ups in line with `outline`, publishing each
    /// transition: the learner's records are read once, and only transitions are written.
    static func reconcile(_ user: UUID, with outline: Outline, now: Date, on connection: PostgresConnection) throws {
        try ProgressRecords.lockCourse(of: user, on: connection)
        let records = try ProgressRecords.moduleRecords(of: user, on: connection)
        let done = try ProgressRecords.doneLessons(of: user, on: connection)
        for module in RollUps.modulesToReconcile(outline: outline, tracked: Array(records.keys)) {
            // A module the learner has no record of changes only if it is now complete; its
            // record is then created.
            let known = records[module] ?? (RollUps.isComplete(module: module, outline: outline, done: done) ? nil : .never)
            _ = try rollUpModule(module, of: user, outline: outline, done: done, record: known, reason: "outline_changed", now: now, on: connection)
        }
        try rollUpCourse(of: user, outline: outline, reason: "outline_changed", now: now, on: connection)
    }

    /// Erases what progress holds of a deleted learner.
    static func forget(_ user: UUID, on connection: PostgresConnection) throws {
        try RowSecurity.enterSystem(on: connection)
        try ProgressRecords.forget(user, on: connection)
    }

    // MARK: Roll-ups

    /// Publishes an event about the learner, numbered after every earlier one about them.
    static func publish<E: DomainEvent>(_ event: E, about user: UUID, on connection: PostgresConnection) throws {
        try Outbox.enqueue(CloudEvent(event, sequence: try ProgressRecords.nextEventSequence(of: user, on: connection)), on: connection)
    }

    /// Brings the module's record in line with the lessons done, publishing the transition if
    /// there is one. Returns whether the module is complete.
    ///
    /// - Parameter record: the module's record when the caller has read it; nil reads it (and
    ///   creates it when missing).
    static func rollUpModule(
        _ module: UUID, of user: UUID, outline: Outline, done: Set<UUID>, record known: CompletionRecord? = nil, reason: String, now: Date,
        on connection: PostgresConnection
    ) throws -> Bool {
        let complete = RollUps.isComplete(module: module, outline: outline, done: done)
        let record = try known ?? ProgressRecords.moduleRecord(module, of: user, on: connection)
        guard let transition = RollUps.transition(from: record, toComplete: complete) else { return complete }
        try ProgressRecords.saveModuleRecord(record.after(transition), module: module, of: user, on: connection)
        switch transition {
        case .completed(let firstTime):
            let event = ProgressModuleCompletedV1(
                userId: user.lowercased, moduleId: module.lowercased, firstTime: firstTime,
                nextModuleId: outline.module(after: module)?.lowercased, completedAt: now)
            try publish(event, about: user, on: connection)
        case .reopened:
            try publish(ProgressModuleReopenedV1(userId: user.lowercased, moduleId: module.lowercased, reason: reason, reopenedAt: now), about: user, on: connection)
        }
        return complete
    }

    /// The same for the course: complete while every published module is.
    @discardableResult
    static func rollUpCourse(of user: UUID, outline: Outline, reason: String, now: Date, on connection: PostgresConnection) throws -> Bool {
        let complete = RollUps.isCourseComplete(outline: outline, completedModules: try ProgressRecords.completedModules(of: user, on: connection))
        let record = try ProgressRecords.courseRecord(of: user, on: connection)
        guard let transition = RollUps.transition(from: record, toComplete: complete) else { return complete }
        try ProgressRecords.saveCourseRecord(record.after(transition), of: user, on: connection)
        switch transition {
        case .completed(let firstTime):
            try publish(ProgressCourseCompletedV1(userId: user.lowercased, firstTime: firstTime, completedAt: now), about: user, on: connection)
        case .reopened:
            try publish(ProgressCourseReopenedV1(userId: user.lowercased, reason: reason, reopenedAt: now), about: user, on: connection)
        }
        return complete
    }
}
