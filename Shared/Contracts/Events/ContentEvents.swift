import Foundation

/// One lesson of the published outline.
public struct OutlineLesson: Codable, Sendable, Equatable {
    public var id: String
    public var title: String
    /// 1-based position within its module.
    public var order: Int
    /// Open to every signed-in user.
    public var isFree: Bool
    /// The video's length, once known.
    public var durationSeconds: Int?

    public init(id: String, title: String, order: Int, isFree: Bool, durationSeconds: Int?) {
        self.id = id
        self.title = title
        self.order = order
        self.isFree = isFree
        self.durationSeconds = durationSeconds
    }
}

/// One module of the published outline, with its published lessons in order.
public struct OutlineModule: Codable, Sendable, Equatable {
    public var id: String
    public var title: String
    /// 1-based position within the course, among published modules.
    public var order: Int
    public var lessons: [OutlineLesson]

    public init(id: String, title: String, order: Int, lessons: [OutlineLesson]) {
        self.id = id
        self.title = title
        self.order = order
        self.lessons = lessons
    }
}

/// `content.course.outline_changed.v1`: the whole published outline, after any change of its
/// structure, order, publication, titles, durations or free lessons. Whole state: a subscriber
/// keeps the one with the highest `sequence` (equal to `version`).
public struct ContentCourseOutlineChangedV1: DomainEvent {
    public static let eventType = EventType(producer: .content, name: "course.outline_changed", majorVersion: 1)
    public static let courseSubject = "course"

    public var version: Int64
    /// Published modules that have at least one published lesson, in order.
    public var modules: [OutlineModule]
    public var changedAt: Date

    public init(version: Int64, modules: [OutlineModule], changedAt: Date) {
        self.version = version
        self.modules = modules
        self.changedAt = changedAt
    }

    public var subject: String { Self.courseSubject }
}

/// `content.video.ready.v1`: a lesson's video finished processing at Mux and can be played.
public struct ContentVideoReadyV1: DomainEvent {
    public static let eventType = EventType(producer: .content, name: "video.ready", majorVersion: 1)
    public var lessonId: String
    public var lessonTitle: String
    public var assetId: String
    public var playbackId: String
    public var durationSeconds: Int

    public init(lessonId: String, lessonTitle: String, assetId: String, playbackId: String, durationSeconds: Int) {
        self.lessonId = lessonId
        self.lessonTitle = lessonTitle
        self.assetId = assetId
        self.playbackId = playbackId
        self.durationSeconds = durationSeconds
    }

    public var subject: String { lessonId }
}

/// `content.video.failed.v1`: Mux could not process a lesson's video; admins are told.
public struct ContentVideoFailedV1: DomainEvent {
    public static let eventType = EventType(producer: .content, name: "video.failed", majorVersion: 1)
    public var lessonId: String
    public var lessonTitle: String
    public var assetId: String?
    /// Mux's explanation, joined.
    public var message: String
    public var failedAt: Date

    public init(lessonId: String, lessonTitle: String, assetId: String?, message: String, failedAt: Date) {
        self.lessonId = lessonId
        self.lessonTitle = lessonTitle
        self.assetId = assetId
        self.message = message
        self.failedAt = failedAt
    }

    public var subject: String { lessonId }
}

/// A task of a generated plan, as progress needs it.
public struct PlanTaskOutline: Codable, Sendable, Equatable {
    public var id: String
    public var order: Int
    public var title: String
    public var estimatedMinutes: Int

    public init(id: String, order: Int, title: String, estimatedMinutes: Int) {
        self.id = id
        self.order = order
        self.title = title
        self.estimatedMinutes = estimatedMinutes
    }
}

/// A module of a generated plan, with its tasks in order.
public struct PlanModuleOutline: Codable, Sendable, Equatable {
    public var id: String
    public var order: Int
    public var title: String
    public var estimatedMinutes: Int
    public var tasks: [PlanTaskOutline]

    public init(id: String, order: Int, title: String, estimatedMinutes: Int, tasks: [PlanTaskOutline]) {
        self.id = id
        self.order = order
        self.title = title
        self.estimatedMinutes = estimatedMinutes
        self.tasks = tasks
    }
}

/// `content.plan.generated.v1`: a learner's plan is ready — its modules and tasks, with ids and
/// estimated minutes (progress tracks the tasks).
public struct ContentPlanGeneratedV1: DomainEvent {
    public static let eventType = EventType(producer: .content, name: "plan.generated", majorVersion: 1)
    public var planId: String
    public var userId: String
    public var modules: [PlanModuleOutline]
    public var generatedAt: Date

    public init(planId: String, userId: String, modules: [PlanModuleOutline], generatedAt: Date) {
        self.planId = planId
        self.userId = userId
        self.modules = modules
        self.generatedAt = generatedAt
    }

    public var subject: String { planId }
}

/// `content.plan.generation_failed.v1`: a plan could not be generated, after every attempt.
public struct ContentPlanGenerationFailedV1: DomainEvent {
    public static let eventType = EventType(producer: .content, name: "plan.generation_failed", majorVersion: 1)
    public var planId: String
    public var userId: String
    /// validation, provider_error, rate_limit, timeout or capped.
    public var classification: String
    public var attempts: Int
    public var failedAt: Date

    public init(planId: String, userId: String, classification: String, attempts: Int, failedAt: Date) {
        self.planId = planId
        self.userId = userId
        self.classification = classification
        self.attempts = attempts
        self.failedAt = failedAt
    }

    public var subject: String { planId }
}

/// `content.plan.deleted.v1`: a learner deleted a plan (progress drops its task progress).
public struct ContentPlanDeletedV1: DomainEvent {
    public static let eventType = EventType(producer: .content, name: "plan.deleted", majorVersion: 1)
    public var planId: String
    public var userId: String
    public var deletedAt: Date

    public init(planId: String, userId: String, deletedAt: Date) {
        self.planId = planId
        self.userId = userId
        self.deletedAt = deletedAt
    }

    public var subject: String { planId }
}

/// `content.plan.regenerated.v1`: a learner's plan was generated again and its modules and tasks
/// replaced — the whole new outline, as in `content.plan.generated.v1`. A task kept from the
/// previous version keeps its id (and its progress); tasks not listed are gone.
public struct ContentPlanRegeneratedV1: DomainEvent {
    public static let eventType = EventType(producer: .content, name: "plan.regenerated", majorVersion: 1)
    public var planId: String
    public var userId: String
    public var modules: [PlanModuleOutline]
    public var regeneratedAt: Date

    public init(planId: String, userId: String, modules: [PlanModuleOutline], regeneratedAt: Date) {
        self.planId = planId
        self.userId = userId
        self.modules = modules
        self.regeneratedAt = regeneratedAt
    }

    public var subject: String { planId }
}

/// `content.plan.exported.v1`: a plan was exported to Notion or synced to Google Calendar (each
/// counts against the learner's monthly export quota).
public struct ContentPlanExportedV1: DomainEvent {
    public static let eventType = EventType(producer: .content, name: "plan.exported", majorVersion: 1)
    public var planId: String
    public var userId: String
    /// notion or google_calendar.
    public var destination: String
    /// Pages (Notion) created, or calendar events (Google) created, updated or deleted.
    public var itemCount: Int
    public var exportedAt: Date

    public init(planId: String, userId: String, destination: String, itemCount: Int, exportedAt: Date) {
        self.planId = planId
        self.userId = userId
        self.destination = destination
        self.itemCount = itemCount
        self.exportedAt = exportedAt
    }

    public var subject: String { planId }
}
