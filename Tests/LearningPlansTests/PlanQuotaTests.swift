import Contracts
import Foundation
import ServiceKit
import Testing

@testable import LearningPlans

/// Every plan quota decided over numbers already loaded: the tier's monthly caps, the day's
/// spend ceiling, the stream caps and which plans may be retried, regenerated or exported.
/// Pure functions, no servers.
@Suite struct PlanQuotaTests {
    @Test func theMonthlyGenerationCapOfEachTier() throws {
        for (tier, cap) in [("free", 10), ("starter", 40), ("pro", 200)] {
            let limits = PlanLimits.of(tier: Tier(rawValue: tier))
            #expect(limits.refusal(.generations, used: cap - 1) == nil, "\(tier): the last generation of the month goes")
            let refused = try #require(limits.refusal(.generations, used: cap), "\(tier): one past the cap is refused")
            #expect(refused.kind == .forbidden && refused.code == "quota_exceeded" && refused.extensions["limit"] == .number(Double(cap)))
            #expect(refused.detail == "Generations (new plans, regenerations and retries): at most \(cap) a month. Archiving a plan does not give one back.")
            #expect(limits.refusal(.generations, used: cap + 5) != nil)
        }
        #expect(PlanLimits.of(tier: Tier(rawValue: "unknown")).refusal(.generations, used: 10) != nil, "an unknown tier is the free one")
    }

    @Test func activePlansRegenerationsAndExportsPerTier() throws {
        let free = PlanLimits.of(tier: Tier(rawValue: "free")), starter = PlanLimits.of(tier: Tier(rawValue: "starter")), pro = PlanLimits.of(tier: Tier(rawValue: "pro"))
        #expect(free.refusal(.activePlans, used: 2) == nil && free.refusal(.activePlans, used: 3)?.extensions["limit"] == .number(3))
        #expect(starter.refusal(.activePlans, used: 10)?.code == "quota_exceeded")
        #expect(pro.refusal(.activePlans, used: 10_000) == nil, "pro has no limit on active plans")
        #expect(free.refusal(.regenerations, used: 4) == nil && free.refusal(.regenerations, used: 5)?.extensions["limit"] == .number(5))
        #expect(starter.refusal(.regenerations, used: 10)?.extensions["limit"] == .number(10))
        #expect(pro.refusal(.regenerations, used: 50)?.extensions["limit"] == .number(50))
        #expect(free.refusal(.exports, used: 10)?.title == "You have exported as many times this month as your plan allows")
        #expect(pro.refusal(.exports, used: 1_000_000) == nil, "pro exports without limit")
        #expect(PlanQuota.allCases.map { pro.limit(of: $0) } == [nil, 200, 50, nil])
    }

    @Test func aRefusedQuotaIsAnswered403WithItsLimit() throws {
        let problem = Problem(try #require(PlanLimits.of(tier: Tier(rawValue: "free")).refusal(.activePlans, used: 3)))
        #expect(problem.status == .forbidden && problem.code == "quota_exceeded" && problem.extensions["limit"] == .number(3))
        #expect(problem.detail == "Active plans: at most 3. Archive a plan to free its slot, or upgrade.")
    }

    @Test func theDailySpendCeilingRefusesUntilTheNextUTCDay() throws {
        let noon = try #require(RFC3339.parse("2031-05-10T12:00:00Z"))
        #expect(SpendCeiling.refusal(spentCents: 1_000_000, ceilingCents: nil, now: noon) == nil, "no ceiling")
        #expect(SpendCeiling.refusal(spentCents: 9, ceilingCents: 10, now: noon) == nil)
        let refused = try #require(SpendCeiling.refusal(spentCents: 10, ceilingCents: 10, now: noon))
        #expect(refused.kind == .unavailable && refused.code == "generation_capacity" && refused.retryAfter == 43_200)
        #expect(refused.extensions["retryAfter"] == .number(43_200))
        #expect(SpendCeiling.refusal(spentCents: 0, ceilingCents: 0, now: noon) != nil, "a ceiling of 0 stops every generation")
        let problem = Problem(refused)
        #expect(problem.status == .serviceUnavailable && problem.headers[.retryAfter] == "43200")
    }

    @Test func streamsOverEitherCapAreRefused() throws {
        let limits = StreamLimits(perLearner: 2, overall: 3)
        #expect(limits.refusal(learnerOpen: 1, overallOpen: 2) == nil)
        let perLearner = try #require(limits.refusal(learnerOpen: 2, overallOpen: 2))
        #expect(perLearner.kind == .tooMany && perLearner.code == "too_many_streams" && perLearner.extensions["limit"] == .number(2))
        #expect(limits.refusal(learnerOpen: 0, overallOpen: 3)?.code == "too_many_streams", "the replica's cap")
        #expect(Problem(perLearner).status == .tooManyRequests)
    }

    @Test func onlyAFailedPlanIsRetriedAndOnlyAReadyOneExported() {
        #expect(PlanTransitions.retryRefusal(status: "failed") == nil)
        for status in ["generating", "ready"] {
            #expect(PlanTransitions.retryRefusal(status: status)?.code == "not_failed")
            #expect(PlanTransitions.retryRefusal(status: status)?.kind == .conflict)
        }
        #expect(PlanTransitions.exportRefusal(status: "ready") == nil)
        #expect(PlanTransitions.exportRefusal(status: "generating")?.code == "plan_not_ready")
        #expect(PlanTransitions.exportRefusal(status: "failed")?.code == "plan_not_ready")
    }

    @Test func aPlanBeingGeneratedOrArchivedIsNotRegenerated() {
        #expect(PlanTransitions.regenerationRefusal(status: "ready", archived: false) == nil)
        #expect(PlanTransitions.regenerationRefusal(status: "failed", archived: false) == nil)
        #expect(PlanTransitions.regenerationRefusal(status: "generating", archived: false)?.code == "generation_in_progress")
        #expect(PlanTransitions.regenerationRefusal(status: "generating", archived: true)?.code == "generation_in_progress", "generating is said first")
        #expect(PlanTransitions.regenerationRefusal(status: "ready", archived: true)?.code == "plan_archived")
        #expect(Problem(PlanTransitions.regenerationRefusal(status: "ready", archived: true)!).status == .conflict)
    }
}
