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

/// The tier limits of learning plans (per calendar month unless noted; nil is unlimited).
public struct PlanLimits: Sendable, Equatable {
    /// Plans not archived, including ones still generating (not per month).
    public var activePlans: Int?
    public var regenerations: Int?
    public var exports: Int?
    public var maxWeeks: Int?

    public static func of(tier: String) -> PlanLimits {
        switch tier {
        case "pro": PlanLimits(activePlans: nil, regenerations: 50, exports: nil, maxWeeks: nil)
        case "starter": PlanLimits(activePlans: 10, regenerations: 10, exports: 50, maxWeeks: 8)
        default: PlanLimits(activePlans: 3, regenerations: 5, exports: 10, maxWeeks: 2)
        }
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
