import Content
import Contracts
import Database
import Foundation
import ServiceKit
import Testing
import TestSupport

@testable import LearningPlans

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

/// The offline generator, priced as told: what a provider would have cost.
struct PricedGenerator: PlanGenerator {
    let cents: Int
    func generate(_ request: PlanRequest) async throws -> (GeneratedPlan, GenerationUsage) {
        var (plan, usage) = try await OfflineGenerator().generate(request)
        usage.costCents = cents
        return (plan, usage)
    }
}

@Suite(.serialized) struct PlanTests {
    static let request = PlanRequest(topic: "Swift concurrency", skillLevel: .intermediate, weeklyHours: 5, learningStyle: .mixed, notes: nil, startDate: nil, deadlineDate: nil)

    /// A schema of its own (no other worker drains its queue), for the queue's rules.
    func withPlans(_ generator: any PlanGenerator = OfflineGenerator(), _ body: (PlanStore, PlanWorker) async throws -> Void) async throws {
        try await withTemporarySchema { pool, schema in
            _ = try await Migrator(schema: schema, migrations: ContentMigrations.all).migrate(pool, logger: TestEnvironment.logger)
            try await body(PlanStore(database: pool), PlanWorker(database: pool, generator: generator, logger: TestEnvironment.logger))
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
            await #expect(throws: DomainError.notFound("plan")) { try await store.plan(id, of: bob) }
            await #expect(throws: DomainError.notFound("plan")) { try await store.delete(id, of: bob, now: Date()) }
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
                        } catch let error as DomainError {
                            return error.code
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
            await #expect(throws: DomainError.self) { try await store.retry(id, of: user, now: Date()) }
            try await store.delete(id, of: user, now: Date())
        }
    }

    // MARK: Abuse limits

    /// The problem a store call's failure is answered with, or nil when it succeeds.
    func problem(_ body: () async throws -> Void) async throws -> Problem? {
        do {
            try await body()
            return nil
        } catch let error as DomainError {
            return Problem(error)
        }
    }

    /// The learner's usage row for the month of `now`, read in the system scope.
    func generations(of user: UUID, _ store: PlanStore, now: Date = Date()) async throws -> Int {
        try await store.database.transaction { connection in
            try RowSecurity.enterSystem(on: connection)
            return try connection.query(
                "SELECT generations FROM usage_metrics WHERE user_id = \(user) AND month = date_trunc('month', \(now)::timestamptz AT TIME ZONE 'UTC')::date"
            ).first?.decode("generations", as: Int.self) ?? 0
        }
    }

    @Test func everyTierHasAMonthlyGenerationCap() {
        #expect(PlanLimits.of(tier: Tier(rawValue: "free")).generations == 10)
        #expect(PlanLimits.of(tier: Tier(rawValue: "starter")).generations == 40)
        #expect(PlanLimits.of(tier: Tier(rawValue: "pro")).generations == 200)
        #expect(PlanLimits.of(tier: Tier(rawValue: "unknown")) == PlanLimits.of(tier: Tier(rawValue: "free")), "an unknown tier is the free one")
        for tier in ["free", "starter", "pro"] {
            let limits = PlanLimits.of(tier: Tier(rawValue: tier))
            let generations = try! #require(limits.generations)
            #expect(generations >= (limits.regenerations ?? 0) && generations >= (limits.activePlans ?? 0), "the cap leaves room for the other quotas")
        }
        #expect(PlanLimits.allows(used: 9, limit: 10) && !PlanLimits.allows(used: 10, limit: 10) && !PlanLimits.allows(used: 11, limit: 10))
        #expect(PlanLimits.allows(used: 1_000_000, limit: nil))
    }

    @Test func theSpendCeilingHoldsUntilTheNextUTCDay() throws {
        #expect(SpendCeiling.allows(spentCents: 999, ceilingCents: nil))
        #expect(SpendCeiling.allows(spentCents: 9, ceilingCents: 10) && !SpendCeiling.allows(spentCents: 10, ceilingCents: 10))
        #expect(!SpendCeiling.allows(spentCents: 0, ceilingCents: 0), "a ceiling of 0 stops every generation")
        let noon = try #require(RFC3339.parse("2031-05-10T12:00:00Z"))
        #expect(SpendCeiling.retryAfter(now: noon) == 43_200)
        #expect(SpendCeiling.retryAfter(now: noon.addingTimeInterval(43_199.5)) == 1)
        #expect(SpendCeiling.retryAfter(now: try #require(RFC3339.parse("2031-05-11T00:00:00Z"))) == 86_400)
    }

    @Test func streamsAreLimitedPerLearnerAndOverall() throws {
        let limits = StreamLimits(perLearner: 2, overall: 3)
        #expect(limits.admits(learnerOpen: 1, overallOpen: 2) && !limits.admits(learnerOpen: 2, overallOpen: 2) && !limits.admits(learnerOpen: 0, overallOpen: 3))
        #expect(StreamLimits(perLearner: 0, overall: -1) == StreamLimits(perLearner: 1, overall: 1), "at least one stream")
        let gate = PlanStreamGate(limits)
        let (ada, bob, cy) = (UUID(), UUID(), UUID())
        let first = try gate.enter(ada)
        var second: PlanStreamSlot? = try gate.enter(ada)
        #expect(throws: DomainError(
            .tooMany, code: "too_many_streams", title: "Too many plan streams are open",
            detail: "At most 2 streams per learner at once. Close one, or read the plan instead.", extensions: ["limit": .number(2)])) { try gate.enter(ada) }
        let bobs = try gate.enter(bob)
        #expect(throws: DomainError.self, "3 open in all") { try gate.enter(cy) }
        #expect(gate.count(ada) == (2, 3))
        first.release()
        first.release()
        #expect(gate.count(ada) == (1, 2), "released once, however often asked")
        second = nil
        #expect(gate.count(ada) == (0, 1) && gate.learners == 1, "a dropped slot gives its place back, and the learner leaves the table")
        _ = try gate.enter(cy)
        bobs.release()
        #expect(gate.learners == 0 && gate.count(cy).overall == 0)
        _ = second
    }

    @Test func createAndArchiveChurnStopsAtTheMonthlyGenerationCap() async throws {
        try await withPlans { store, _ in
            let user = UUID()
            let now = try #require(RFC3339.parse("2031-05-10T12:00:00Z"))
            for _ in 0..<10 {
                let plan = try await store.create(Self.request, by: user, now: now)
                _ = try await store.archive(UUID(uuidString: plan.id)!, of: user, now: now)
            }
            let refused = try await problem { _ = try await store.create(Self.request, by: user, now: now) }
            #expect(refused?.status == .forbidden && refused?.code == "quota_exceeded" && refused?.extensions["limit"] == .number(10), "\(String(describing: refused))")
            #expect(try await store.list(of: user).count == 10)
            #expect(try await generations(of: user, store, now: now) == 10)
            // A new month starts again.
            _ = try await store.create(Self.request, by: user, now: try #require(RFC3339.parse("2031-06-01T00:00:00Z")))
        }
    }

    @Test func concurrentCreationsNeverPassTheMonthlyGenerationCap() async throws {
        try await withPlans { store, _ in
            let user = UUID()
            for _ in 0..<8 {
                let plan = try await store.create(Self.request, by: user, now: Date())
                _ = try await store.archive(UUID(uuidString: plan.id)!, of: user, now: Date())
            }
            let outcomes = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<6 {
                    group.addTask {
                        do {
                            _ = try await store.create(Self.request, by: user, now: Date())
                            return "created"
                        } catch let error as DomainError {
                            return "\(error.code) \(error.extensions["limit"].map { "\($0)" } ?? "")"
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == "created" }.count == 2, "\(outcomes)")
            #expect(outcomes.filter { $0.hasPrefix("quota_exceeded") }.count == 4, "\(outcomes)")
            #expect(try await generations(of: user, store) == 10)
            #expect(try await store.list(of: user).count == 10)
        }
    }

    @Test func retriesAndRegenerationsCountAsGenerations() async throws {
        try await withPlans(ScriptedGenerator([.validation("not JSON")])) { store, worker in
            let user = UUID()
            let id = UUID(uuidString: try await store.create(Self.request, by: user, now: Date()).id)!
            #expect(try await worker.processNext(now: Date()) == "failed")
            _ = try await store.retry(id, of: user, now: Date())
            #expect(try await worker.processNext(now: Date()) == "ready")
            _ = try await store.regenerate(id, with: .init(weeklyHours: 3), by: user, now: Date())
            #expect(try await worker.processNext(now: Date()) == "ready")
            #expect(try await generations(of: user, store) == 3)
            for _ in 0..<7 {
                let plan = try await store.create(Self.request, by: user, now: Date())
                _ = try await store.archive(UUID(uuidString: plan.id)!, of: user, now: Date())
            }
            let refused = try await problem { _ = try await store.regenerate(id, with: .init(), by: user, now: Date()) }
            #expect(refused?.code == "quota_exceeded" && refused?.extensions["limit"] == .number(10), "the month's generations, not its regenerations (1 of 5)")
            #expect(try await generations(of: user, store) == 10)
        }
    }

    /// A key rotation: rows sealed under the previous key are sealed again under the new one
    /// and still open to the same tokens; rows under a key nobody holds are counted, untouched.
    @Test func aKeyRotationSealsEveryTokenAgainUnderTheNewKey() async throws {
        try await withTemporarySchema { pool, schema in
            _ = try await Migrator(schema: schema, migrations: ContentMigrations.all).migrate(pool, logger: TestEnvironment.logger)
            let old = Data((0..<32).map { UInt8($0) }).base64EncodedString()
            let new = Data(repeating: 9, count: 32).base64EncodedString()
            let lost = Data(repeating: 5, count: 32).base64EncodedString()
            let before = Integrations(database: pool, vault: try TokenVault(encodedKey: old), notion: nil, google: nil)
            let learners = (0..<150).map { _ in UUID() }
            for (n, learner) in learners.enumerated() {
                try await before.store(
                    ProviderGrant(accessToken: "access-\(n)", refreshToken: n % 2 == 0 ? "refresh-\(n)" : nil, expiresAt: nil, account: nil),
                    provider: .notion, user: learner, vault: try #require(before.vault))
            }
            let stranger = UUID()
            try await before.store(
                ProviderGrant(accessToken: "unreachable", refreshToken: nil, expiresAt: nil, account: nil),
                provider: .notion, user: stranger, vault: try TokenVault(encodedKey: lost))

            // A row under the old key that does not open (damaged): counted, left, and passed.
            let damaged = UUID()
            try await pool.execute(
                "INSERT INTO integration_tokens (user_id, provider, key_id, access_token) VALUES (\(damaged), 'notion', \(try #require(before.vault).keyID), \(Data(repeating: 1, count: 40)))")

            let vault = try TokenVault(encodedKey: new, previousKeys: [old])
            let after = Integrations(database: pool, vault: vault, notion: nil, google: nil)
            // A learner connects again before the sweep, and the provider sends no refresh token:
            // the one kept is sealed again with the row's new key.
            try await after.store(
                ProviderGrant(accessToken: "access-2", refreshToken: nil, expiresAt: nil, account: nil), provider: .notion, user: learners[2], vault: vault)
            var progress = try await after.reseal()
            #expect(progress.resealed + progress.failed == 100 && !progress.done)
            progress = try await after.reseal(continuing: progress)
            #expect(progress.resealed == 149 && progress.failed == 1 && progress.done)
            let again = try await after.reseal()
            #expect(again.resealed == 0 && again.failed == 1 && again.done)
            #expect(try await after.tokens(underKeys: vault.previousKeyIDs) == 1)
            #expect(try await after.tokensUnderUnknownKeys() == 1)
            let keys = try await pool.query("SELECT key_id, count(*) AS n FROM integration_tokens GROUP BY key_id ORDER BY n DESC, key_id")
            #expect(try keys.map { try $0.decode("n", as: Int.self) } == [150, 1, 1])
            #expect(try keys[0].decode("key_id", as: String.self) == vault.keyID)
            // The new key alone opens every token, access and refresh, to what was stored.
            let alone = try TokenVault(encodedKey: new)
            for row in try await pool.query("SELECT user_id, access_token, refresh_token FROM integration_tokens WHERE key_id = \(vault.keyID)") {
                let user = try row.decode("user_id", as: UUID.self)
                let n = try #require(learners.firstIndex(of: user))
                #expect(try alone.open(try row.decode("access_token"), user: user, provider: "notion") == "access-\(n)")
                #expect(try row.decode("refresh_token", as: Data?.self).map { try alone.open($0, user: user, provider: "notion") } == (n % 2 == 0 ? "refresh-\(n)" : nil))
            }
            // A token under a key nobody holds stays as it was, and does not open: its learner is
            // asked to connect again.
            let strangers = try await pool.query("SELECT key_id, access_token FROM integration_tokens WHERE user_id = \(stranger)")
            let lostID = try TokenVault(encodedKey: lost).keyID
            #expect(try strangers.map { try $0.decode("key_id", as: String.self) } == [lostID])
            #expect(throws: TokenVault.Failure.unknownKey(lostID)) {
                try vault.open(try strangers[0].decode("access_token"), keyID: lostID, user: stranger, provider: "notion")
            }
        }
    }

    @Test func theDailySpendCeilingStopsNewGenerationsAndHoldsQueuedOnes() async throws {
        try await withTemporarySchema { pool, schema in
            _ = try await Migrator(schema: schema, migrations: ContentMigrations.all).migrate(pool, logger: TestEnvironment.logger)
            let store = PlanStore(database: pool, dailySpendCeilingCents: 10)
            let worker = PlanWorker(database: pool, generator: PricedGenerator(cents: 6), dailySpendCeilingCents: 10, logger: TestEnvironment.logger)
            let noon = try #require(RFC3339.parse("2031-05-10T12:00:00Z"))
            var plans: [(UUID, UUID)] = []
            for _ in 0..<3 {
                let user = UUID()
                plans.append((UUID(uuidString: try await store.create(Self.request, by: user, now: noon).id)!, user))
            }
            #expect(try await worker.processNext(now: noon) == "ready")
            #expect(try await worker.processNext(now: noon) == "ready", "6 of 10 cents spent: one more goes")
            #expect(try await worker.processNext(now: noon) == nil, "12 of 10: the third waits")
            let refused = try await problem { _ = try await store.create(Self.request, by: UUID(), now: noon) }
            #expect(refused?.status == .serviceUnavailable && refused?.code == "generation_capacity", "\(String(describing: refused))")
            #expect(refused?.extensions["retryAfter"] == .number(43_200) && refused?.headers.map(\.value) == ["43200"])
            let (failedPlan, failedUser) = plans[2]
            #expect(try await store.plan(failedPlan, of: failedUser).generationStatus == "generating")
            // The next UTC day starts again from zero.
            let tomorrow = noon.addingTimeInterval(86_400)
            #expect(try await worker.processNext(now: tomorrow) == "ready")
            _ = try await store.create(Self.request, by: UUID(), now: tomorrow)
            let spend = try await pool.transaction { connection in
                try connection.query("SELECT day::text AS day, cost_cents, generations FROM provider_spend ORDER BY day").map {
                    "\(try $0.decode("day", as: String.self)) \(try $0.decode("cost_cents", as: Int.self)) \(try $0.decode("generations", as: Int.self))"
                }
            }
            #expect(spend == ["2031-05-10 12 2", "2031-05-11 6 1"])
        }
    }
}
