import Contracts
import Foundation
import ServiceKit

/// What a learner asks a plan for.
public struct PlanRequest: Codable, Sendable, Equatable {
    public enum SkillLevel: String, Codable, Sendable, CaseIterable { case beginner, intermediate, advanced }
    public enum LearningStyle: String, Codable, Sendable, CaseIterable { case reading, video, practice, mixed }

    public var topic: String
    public var skillLevel: SkillLevel
    public var weeklyHours: Int
    public var learningStyle: LearningStyle
    public var notes: String?
    public var startDate: String?
    public var deadlineDate: String?

    public init(
        topic: String, skillLevel: SkillLevel, weeklyHours: Int, learningStyle: LearningStyle, notes: String?, startDate: String?, deadlineDate: String?
    ) {
        self.topic = topic
        self.skillLevel = skillLevel
        self.weeklyHours = weeklyHours
        self.learningStyle = learningStyle
        self.notes = notes
        self.startDate = startDate
        self.deadlineDate = deadlineDate
    }
}

/// The tier limits of learning plans (per calendar month unless noted; nil is unlimited). Every
/// plan quota is decided here.
public struct PlanLimits: Sendable, Equatable {
    /// Plans not archived, including ones still generating (not per month).
    public var activePlans: Int?
    /// Generations queued a month, whatever queued them: a new plan, a regeneration or a retry.
    /// Archiving frees an active plan's slot but never gives a generation back, so creating and
    /// archiving in a loop stops here.
    public var generations: Int?
    public var regenerations: Int?
    public var exports: Int?
    public var maxWeeks: Int?

    /// A tier this version does not know gets the free tier's limits.
    public static func of(tier: Tier) -> PlanLimits {
        switch tier {
        case .pro: PlanLimits(activePlans: nil, generations: 200, regenerations: 50, exports: nil, maxWeeks: nil)
        case .starter: PlanLimits(activePlans: 10, generations: 40, regenerations: 10, exports: 50, maxWeeks: 8)
        default: PlanLimits(activePlans: 3, generations: 10, regenerations: 5, exports: 10, maxWeeks: 2)
        }
    }

    /// Whether one more is allowed when `used` have been (nil `limit`: always).
    public static func allows(used: Int, limit: Int?) -> Bool { limit.map { used < $0 } ?? true }

    /// The tier's limit of `quota` (nil: unlimited).
    public func limit(of quota: PlanQuota) -> Int? {
        switch quota {
        case .activePlans: activePlans
        case .generations: generations
        case .regenerations: regenerations
        case .exports: exports
        }
    }

    /// Why one more of `quota` is refused when `used` have been (403 `quota_exceeded`, with the
    /// limit), or nil when it is allowed.
    public func refusal(_ quota: PlanQuota, used: Int) -> DomainError? {
        guard let limit = limit(of: quota), !Self.allows(used: used, limit: limit) else { return nil }
        let title: String, detail: String
        switch quota {
        case .activePlans:
            title = "You have as many active plans as your plan allows"
            detail = "Active plans: at most \(limit). Archive a plan to free its slot, or upgrade."
        case .generations:
            title = "You have generated as many plans this month as your plan allows"
            detail = "Generations (new plans, regenerations and retries): at most \(limit) a month. Archiving a plan does not give one back."
        case .regenerations:
            title = "You have regenerated as many plans this month as your plan allows"
            detail = "Regenerations: at most \(limit) a month."
        case .exports:
            title = "You have exported as many times this month as your plan allows"
            detail = "Exports (Notion and Google Calendar): at most \(limit) a month."
        }
        return DomainError(.forbidden, code: "quota_exceeded", title: title, detail: detail, extensions: ["limit": .number(Double(limit))])
    }
}

/// What a learner's tier limits.
public enum PlanQuota: Sendable, CaseIterable {
    case activePlans, generations, regenerations, exports
}

/// Which of a plan's states allow a learner's second try, or an export: decided on the status
/// (and archive) the store has just read, under the plan's row lock.
public enum PlanTransitions {
    /// Only a failed plan can be retried (409 `not_failed`).
    public static func retryRefusal(status: String) -> DomainError? {
        status == "failed" ? nil : DomainError(.conflict, code: "not_failed", title: "Only a failed plan can be retried")
    }

    /// A plan being generated, or archived, is not regenerated (409).
    public static func regenerationRefusal(status: String, archived: Bool) -> DomainError? {
        if status == "generating" {
            return DomainError(.conflict, code: "generation_in_progress", title: "The plan is being generated", detail: "Wait for it to finish, then regenerate.")
        }
        if archived { return DomainError(.conflict, code: "plan_archived", title: "An archived plan cannot be regenerated") }
        return nil
    }

    /// Only a generated plan is exported (409 `plan_not_ready`).
    public static func exportRefusal(status: String) -> DomainError? {
        status == "ready" ? nil : DomainError(.conflict, code: "plan_not_ready", title: "Only a generated plan can be exported")
    }
}

/// The ceiling on what the external provider may cost a UTC day, across learners.
public enum SpendCeiling {
    /// Whether one more generation may be queued, or sent to the provider, after `spentCents`
    /// today (nil `ceilingCents`: no ceiling).
    public static func allows(spentCents: Int, ceilingCents: Int?) -> Bool { ceilingCents.map { spentCents < $0 } ?? true }

    /// Why a new generation is refused after `spentCents` today (503 `generation_capacity`, to be
    /// tried again the next UTC day), or nil when the ceiling allows it.
    public static func refusal(spentCents: Int, ceilingCents: Int?, now: Date) -> DomainError? {
        guard !allows(spentCents: spentCents, ceilingCents: ceilingCents) else { return nil }
        let wait = retryAfter(now: now)
        return DomainError(
            .unavailable, code: "generation_capacity", title: "Plans cannot be generated right now",
            detail: "Today's generation capacity is used up. Try again after midnight UTC.",
            extensions: ["retryAfter": .number(Double(wait))], retryAfter: wait)
    }

    /// Seconds until the next UTC day, when the ceiling starts again from zero (at least 1).
    public static func retryAfter(now: Date) -> Int {
        let day = 86_400
        let seconds = Int(now.timeIntervalSince1970.rounded(.down))
        return day - ((seconds % day) + day) % day
    }
}

/// How many plan streams may be open at once on one replica: per learner and in all.
public struct StreamLimits: Sendable, Equatable {
    public var perLearner: Int
    public var overall: Int

    public init(perLearner: Int = 2, overall: Int = 200) {
        self.perLearner = max(1, perLearner)
        self.overall = max(1, overall)
    }

    /// Whether a learner with `learnerOpen` streams may open another while `overallOpen` are open.
    public func admits(learnerOpen: Int, overallOpen: Int) -> Bool { learnerOpen < perLearner && overallOpen < overall }

    /// Why one more stream is refused (429 `too_many_streams`), or nil when it is admitted.
    public func refusal(learnerOpen: Int, overallOpen: Int) -> DomainError? {
        guard !admits(learnerOpen: learnerOpen, overallOpen: overallOpen) else { return nil }
        return DomainError(
            .tooMany, code: "too_many_streams", title: "Too many plan streams are open",
            detail: "At most \(perLearner) streams per learner at once. Close one, or read the plan instead.",
            extensions: ["limit": .number(Double(perLearner))])
    }
}

/// Generated efforts are kept within sensible bounds, whatever the generator says.
public enum Effort {
    public static let module = 15...480
    public static let task = 5...120

    public static func clamp(_ minutes: Int, to range: ClosedRange<Int>) -> Int { min(max(minutes, range.lowerBound), range.upperBound) }
}

/// The backoff before a failed generation is tried again: min(60, 2^attempt) seconds.
public enum GenerationBackoff {
    public static func delay(afterAttempt attempt: Int) -> TimeInterval { min(60, pow(2, Double(attempt))) }
}
