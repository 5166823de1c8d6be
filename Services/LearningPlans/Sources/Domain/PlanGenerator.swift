import Foundation

/// A generated plan before it is stored: modules of tasks, each task with resources.
public struct GeneratedPlan: Codable, Sendable, Equatable {
    public struct Resource: Codable, Sendable, Equatable {
        /// youtube, article, course, doc or other.
        public var type: String
        public var title: String
        public var url: String
        public var notes: String?
    }

    public struct Task: Codable, Sendable, Equatable {
        public var title: String
        public var description: String
        public var estimatedMinutes: Int
        public var resources: [Resource]
    }

    public struct Module: Codable, Sendable, Equatable {
        public var title: String
        public var description: String
        public var estimatedMinutes: Int
        public var tasks: [Task]
    }

    public var modules: [Module]

    /// The most modules, and tasks per module, a plan may have: more is not a plan a learner can use.
    public static let maxModules = 12
    public static let maxTasks = 12

    /// The plan as it may be stored — 1 to 12 titled modules of 1 to 12 titled tasks, efforts
    /// clamped — or a `validation` failure saying what is wrong, whichever generator made it.
    public func validated() throws -> GeneratedPlan {
        guard (1...Self.maxModules).contains(modules.count) else {
            throw GenerationFailure.validation("the plan has \(modules.count) modules (1 to \(Self.maxModules) are usable)")
        }
        for (index, module) in modules.enumerated() {
            guard !module.title.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw GenerationFailure.validation("module \(index + 1) has no title") }
            guard (1...Self.maxTasks).contains(module.tasks.count) else {
                throw GenerationFailure.validation("module \(index + 1) has \(module.tasks.count) tasks (1 to \(Self.maxTasks) are usable)")
            }
            if let task = module.tasks.firstIndex(where: { $0.title.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }) {
                throw GenerationFailure.validation("task \(task + 1) of module \(index + 1) has no title")
            }
        }
        return clamped()
    }

    /// The same plan with every effort within bounds, and each module's effort its tasks' sum
    /// (clamped too).
    public func clamped() -> GeneratedPlan {
        GeneratedPlan(modules: modules.map { module in
            let tasks = module.tasks.map { task in
                Task(title: task.title, description: task.description, estimatedMinutes: Effort.clamp(task.estimatedMinutes, to: Effort.task), resources: task.resources)
            }
            return Module(
                title: module.title, description: module.description,
                estimatedMinutes: Effort.clamp(tasks.reduce(0) { $0 + $1.estimatedMinutes }, to: Effort.module), tasks: tasks)
        })
    }
}

/// Why a generation failed, as recorded and as streamed.
public enum GenerationFailure: Error, Equatable, Sendable {
    case validation(String)
    case providerError(String)
    case rateLimit(String)
    case timeout(String)
    case capped(String)

    public var classification: String {
        switch self {
        case .validation: "validation"
        case .providerError: "provider_error"
        case .rateLimit: "rate_limit"
        case .timeout: "timeout"
        case .capped: "capped"
        }
    }

    /// Whether trying again may succeed.
    public var retryable: Bool {
        switch self {
        case .providerError, .rateLimit, .timeout: true
        case .validation, .capped: false
        }
    }

    public var message: String {
        switch self {
        case .validation(let m), .providerError(let m), .rateLimit(let m), .timeout(let m), .capped(let m): m
        }
    }
}

/// What a generation used, for the record and for costs.
public struct GenerationUsage: Sendable, Equatable {
    public var provider: String
    public var model: String
    public var promptTokens: Int
    public var completionTokens: Int
    public var costCents: Int

    public static func offline() -> GenerationUsage { GenerationUsage(provider: "offline", model: "syllabus-offline-1", promptTokens: 0, completionTokens: 0, costCents: 0) }
}

public protocol PlanGenerator: Sendable {
    /// Who generates, as recorded with every attempt (a failed one has no usage to say so).
    var provider: String { get }
    var model: String { get }
    func generate(_ request: PlanRequest) async throws -> (GeneratedPlan, GenerationUsage)
}

extension PlanGenerator {
    public var provider: String { "custom" }
    public var model: String { "unknown" }
}

/// The built-in generator: deterministic, offline, and useful — a path from foundations to a
/// project, sized to the learner's level and weekly hours, with resources to search for.
public struct OfflineGenerator: PlanGenerator {
    public init() {}

    public var provider: String { GenerationUsage.offline().provider }
    public var model: String { GenerationUsage.offline().model }

    static let stages: [(String, String)] = [
        ("Foundations of {topic}", "The vocabulary and core ideas of {topic}, and how the pieces fit."),
        ("Core techniques in {topic}", "The everyday techniques of {topic}, practised on small examples."),
        ("Working with {topic} in practice", "Realistic exercises that combine what came before."),
        ("Deeper into {topic}", "The harder corners of {topic}: trade-offs, edge cases and tools."),
        ("A project in {topic}", "One small project that uses everything, start to finish."),
        ("Reviewing and going further with {topic}", "Consolidate, look back, and plan what comes next."),
    ]

    public func generate(_ request: PlanRequest) async throws -> (GeneratedPlan, GenerationUsage) {
        let topic = request.topic.trimmingCharacters(in: .whitespacesAndNewlines)
        let moduleCount: Int
        switch request.skillLevel {
        case .beginner: moduleCount = 4
        case .intermediate: moduleCount = 5
        case .advanced: moduleCount = 6
        }
        let stages = request.skillLevel == .beginner ? Array(Self.stages.prefix(3)) + [Self.stages[4]] : Array(Self.stages.prefix(moduleCount))
        // A week's hours spread over a module's tasks: longer sessions for more hours.
        let taskMinutes = Effort.clamp(request.weeklyHours * 60 / 4, to: Effort.task)
        let encoded = topic.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "topic"
        let modules = stages.enumerated().map { index, stage in
            let kinds: [(String, String)]
            switch request.learningStyle {
            case .reading: kinds = [("Read", "article"), ("Study", "doc"), ("Summarise", "doc")]
            case .video: kinds = [("Watch", "youtube"), ("Follow along", "youtube"), ("Recap", "article")]
            case .practice: kinds = [("Try", "doc"), ("Build", "course"), ("Exercise", "doc")]
            case .mixed: kinds = [("Read", "article"), ("Watch", "youtube"), ("Practise", "course")]
            }
            let title = stage.0.replacingOccurrences(of: "{topic}", with: topic)
            let tasks = kinds.enumerated().map { taskIndex, kind in
                GeneratedPlan.Task(
                    title: "\(kind.0): \(title.lowercased())", description: "\(kind.0) material on \(title.lowercased()); note three things you learnt.",
                    estimatedMinutes: taskMinutes + taskIndex * 5,
                    resources: [GeneratedPlan.Resource(
                        type: kind.1, title: "\(topic) — \(kind.0.lowercased()) (module \(index + 1))",
                        url: kind.1 == "youtube" ? "https://www.youtube.com/results?search_query=\(encoded)" : "https://duckduckgo.com/?q=\(encoded)+\(kind.0.lowercased())",
                        notes: nil)])
            }
            return GeneratedPlan.Module(title: title, description: stage.1.replacingOccurrences(of: "{topic}", with: topic), estimatedMinutes: 0, tasks: tasks)
        }
        return (GeneratedPlan(modules: modules).clamped(), .offline())
    }
}
