import Foundation

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

    public static func of(tier: String) -> PlanLimits {
        switch tier {
        case "pro": PlanLimits(activePlans: nil, generations: 200, regenerations: 50, exports: nil, maxWeeks: nil)
        case "starter": PlanLimits(activePlans: 10, generations: 40, regenerations: 10, exports: 50, maxWeeks: 8)
        default: PlanLimits(activePlans: 3, generations: 10, regenerations: 5, exports: 10, maxWeeks: 2)
        }
    }

    /// Whether one more is allowed when `used` have been (nil `limit`: always).
    public static func allows(used: Int, limit: Int?) -> Bool { limit.map { used < $0 } ?? true }
}

/// The ceiling on what the external provider may cost a UTC day, across learners.
public enum SpendCeiling {
    /// Whether one more generation may be queued, or sent to the provider, after `spentCents`
    /// today (nil `ceilingCents`: no ceiling).
    public static func allows(spentCents: Int, ceilingCents: Int?) -> Bool { ceilingCents.map { spentCents < $0 } ?? true }

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
