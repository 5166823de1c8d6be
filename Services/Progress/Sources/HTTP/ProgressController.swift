import Foundation
import Hummingbird
import ServiceKit

/// `/v1/progress…`: a learner's own progress — the summary, and starting, completing and undoing
/// lessons.
struct ProgressController: Sendable {
    let progress: LearnerProgress

    func add(to routes: RouteGroups) {
        routes.learner.get("/v1/progress", use: summary)
        routes.learner.put("/v1/progress/lessons/{lessonId}", use: complete)
        routes.learner.delete("/v1/progress/lessons/{lessonId}", use: uncomplete)
        routes.learner.post("/v1/progress/lessons/{lessonId}/start", use: start)
        routes.learner.put("/v1/progress/tasks/{taskId}", use: setTask)
        routes.learner.get("/v1/progress/plans/{planId}", use: plan)
    }

    struct TaskInput: Decodable {
        var status: String?
    }

    @Sendable func setTask(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<LearnerProgress.TaskAnswer> {
        let caller = try context.user
        let task = try context.uuid("taskId", of: "task")
        let input = try await request.decode(as: TaskInput.self, context: context)
        guard let status = input.status.flatMap(TaskStatus.init(rawValue:)) else {
            throw DomainError.validation([FieldError(field: "status", code: "invalid_choice", message: "One of: not_started, in_progress, completed.")])
        }
        return JSONResponse(.ok, try await progress.setTask(task, to: status, by: caller.id))
    }

    @Sendable func plan(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<PlanSummary> {
        let caller = try context.user
        return JSONResponse(.ok, try await progress.plan(try context.uuid("planId", of: "plan"), of: caller.id))
    }

    @Sendable func summary(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<ProgressSummary> {
        let caller = try context.user
        return JSONResponse(.ok, try await progress.summary(of: caller.id))
    }

    @Sendable func complete(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<LearnerProgress.CompletionAnswer> {
        let caller = try context.user
        let lesson = try context.uuid("lessonId", of: "lesson")
        return JSONResponse(.ok, try await progress.complete(lesson, by: caller.id, now: Date()))
    }

    @Sendable func uncomplete(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<LearnerProgress.CompletionAnswer> {
        let caller = try context.user
        let lesson = try context.uuid("lessonId", of: "lesson")
        return JSONResponse(.ok, try await progress.uncomplete(lesson, by: caller.id, now: Date()))
    }

    @Sendable func start(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<LearnerProgress.StartAnswer> {
        let caller = try context.user
        let lesson = try context.uuid("lessonId", of: "lesson")
        return JSONResponse(.ok, try await progress.start(lesson, by: caller.id, now: Date()))
    }
}
