import Contracts
import Database
import Foundation
import ServiceKit
import Testing
import TestSupport

@testable import Content

/// A generator that fails as told, then delegates.
final class ScriptedGenerator: PlanGenerator, @unchecked Sendable {
    let lock = NSLock()
    var failures: [GenerationFailure]
    init(_ failures: [GenerationFailure]) { self.failures = failures }
    func generate(_ request: PlanRequest) async throws -> (GeneratedPlan, GenerationUsage) {
        if let failure = lock.withLock({ failures.isEmpty ? nil : failures.removeFirst() }) { throw failure }
        return try await OfflineGenerator().generate(request)
    }
}

@Suite(.serialized) struct PlanTests {
    static let request = PlanRequest(topic: "Swift concurrency", skillLevel: .intermediate, weeklyHours: 5, learningStyle: .mixed, notes: nil, startDate: nil, deadlineDate: nil)

    /// A schema of its own (no other worker drains its queue), for the queue's rules.
    func withPlans(_ generator: any PlanGenerator = OfflineGenerator(), _ body: (PlanStore, PlanWorker) async throws -> Void) async throws {
        try await withTemporarySchema { pool, schema in
            _ = try await Migrator(schema: schema, migrations: ContentMigrations.all).migrate(pool, logger: TestEnvironment.logger)
            try await body(PlanStore(database: pool), PlanWorker(database: pool, listenURL: "", generator: generator, logger: TestEnvironment.logger))
        }
    }

    /// The real `content` schema, as the service's own role (not the owner, no BYPASSRLS).
    func withServiceRole(_ body: (PlanStore) async throws -> Void) async throws {
        let owner = DatabasePool(url: try TestEnvironment.value("CONTENT_MIGRATION_DATABASE_URL"), size: 1, searchPath: "content", logger: TestEnvironment.logger)
        _ = try await Migrator(schema: "content", migrations: ContentMigrations.all).migrate(owner, logger: TestEnvironment.logger)
        owner.shutdown()
        let pool = DatabasePool(url: try TestEnvironment.value("CONTENT_DATABASE_URL"), size: 2, searchPath: "content", logger: TestEnvironment.logger)
        defer { pool.shutdown() }
        try await body(PlanStore(database: pool))
    }

    @Test func aLearnerSeesOnlyTheirOwnPlans() async throws {
        try await withServiceRole { store in
            let (ada, bob) = (UUID(), UUID())
            let created = try await store.create(Self.request, by: ada, now: Date())
            let id = try #require(UUID(uuidString: created.id))
            #expect(try await store.list(of: ada).map(\.id) == [created.id])
            #expect(try await store.list(of: bob).isEmpty, "row-level security: another learner sees nothing")
            await #expect(throws: Problem.notFound("plan")) { try await store.plan(id, of: bob) }
            await #expect(throws: Problem.notFound("plan")) { try await store.delete(id, of: bob, now: Date()) }
            try await store.delete(id, of: ada, now: Date())
        }
    }

    @Test func theOfflineGeneratorMakesAUsefulBoundedPlan() async throws {
        let (plan, usage) = try await OfflineGenerator().generate(Self.request)
        #expect(plan.modules.count == 5 && plan.modules.allSatisfy { $0.tasks.count == 3 })
        #expect(plan.modules.flatMap(\.tasks).allSatisfy { Effort.task.contains($0.estimatedMinutes) && !$0.resources.isEmpty })
        #expect(plan.modules.allSatisfy { Effort.module.contains($0.estimatedMinutes) })
        #expect(plan.modules[0].title == "Foundations of Swift concurrency")
        #expect(usage.costCents == 0)
        #expect(try await OfflineGenerator().generate(Self.request).0 == plan, "deterministic")
    }

    @Test func aPlanIsGeneratedByTheWorker() async throws {
        try await withPlans { store, worker in
            let ada = UUID()
            let created = try await store.create(Self.request, by: ada, now: Date())
            #expect(created.generationStatus == "generating")
            var status: String?
            repeat { status = try await worker.processNext(now: Date()) } while status != nil && status != "ready"
            let plan = try await store.plan(try #require(UUID(uuidString: created.id)), of: ada)
            #expect(plan.generationStatus == "ready" && plan.modules?.count == 5)
            #expect(plan.modules?.map(\.order) == [1, 2, 3, 4, 5])
            #expect(try await store.attempts(UUID(uuidString: created.id)!, of: ada).map(\.outcome) == ["success"])
            try await store.delete(UUID(uuidString: created.id)!, of: ada, now: Date())
        }
    }

    @Test func theFreeTiersFourthConcurrentActivePlanIsRefused() async throws {
        try await withPlans { store, _ in
            let user = UUID()
            let outcomes = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<5 {
                    group.addTask {
                        do {
                            _ = try await store.create(Self.request, by: user, now: Date())
                            return "created"
                        } catch let problem as Problem {
                            return problem.code
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == "created" }.count == 3)
            #expect(outcomes.filter { $0 == "quota_exceeded" }.count == 2)
            // Archiving frees a slot.
            let plans = try await store.list(of: user)
            _ = try await store.archive(UUID(uuidString: plans[0].id)!, of: user, now: Date())
            _ = try await store.create(Self.request, by: user, now: Date())
            for plan in try await store.list(of: user) { try await store.delete(UUID(uuidString: plan.id)!, of: user, now: Date()) }
        }
    }

    @Test func providerFailuresAreRetriedWithBackoffClassifiedAndRecorded() async throws {
        try await withPlans(ScriptedGenerator([.timeout("no answer in 30 s"), .rateLimit("429")])) { store, worker in
            let user = UUID()
            let plan = try await store.create(Self.request, by: user, now: Date())
            let id = UUID(uuidString: plan.id)!
            var now = Date()
            #expect(try await worker.processNext(now: now) == "generating")
            #expect(try await worker.processNext(now: now) == nil, "not before the backoff")
            now = now.addingTimeInterval(GenerationBackoff.delay(afterAttempt: 1))
            #expect(try await worker.processNext(now: now) == "generating")
            now = now.addingTimeInterval(GenerationBackoff.delay(afterAttempt: 2))
            #expect(try await worker.processNext(now: now) == "ready")
            let attempts = try await store.attempts(id, of: user)
            #expect(attempts.map(\.outcome) == ["failure", "failure", "success"])
            #expect(attempts.compactMap(\.classification) == ["timeout", "rate_limit"])
            try await store.delete(id, of: user, now: Date())
        }
    }

    @Test func invalidOutputIsNotRetriedAndTheFailedPlanCanBeRetried() async throws {
        try await withPlans(ScriptedGenerator([.validation("not JSON")])) { store, worker in
            let user = UUID()
            let id = UUID(uuidString: try await store.create(Self.request, by: user, now: Date()).id)!
            #expect(try await worker.processNext(now: Date()) == "failed")
            #expect(try await store.plan(id, of: user).generationStatus == "failed")
            _ = try await store.retry(id, of: user, now: Date())
            #expect(try await worker.processNext(now: Date()) == "ready")
            await #expect(throws: Problem.self) { try await store.retry(id, of: user, now: Date()) }
            try await store.delete(id, of: user, now: Date())
        }
    }
}
