import Foundation
import Hummingbird
import ServiceKit

/// `/v1/progress…`: a learner's own progress — the summary, and starting, completing and undoing
/// lessons.
struct ProgressController: Sendable {
    let store: ProgressStore

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

    @Sendable func setTask(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<ProgressStore.TaskAnswer> {
        let caller = try context.user
        let task = try context.uuid("taskId", of: "task")
        let input = try await request.decode(as: TaskInput.self, context: context)
        guard let status = input.status.flatMap(ProgressStore.TaskStatus.init(rawValue:)) else {
            throw DomainError.validation([FieldError(field: "status", code: "invalid_choice", message: "One of: not_started, in_progress, completed.")])
        }
        return JSONResponse(.ok, try await store.setTask(task, to: status, by: caller.id))
    }

    @Sendable func plan(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<ProgressStore.PlanSummary> {
        let caller = try context.user
        return JSONResponse(.ok, try await store.plan(try context.uuid("planId", of: "plan"), of: caller.id))
    }

    @Sendable func summary(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<ProgressStore.Summary> {
        let caller = try context.user
        return JSONResponse(.ok, try await store.summary(of: caller.id))
    }

    @Sendable func complete(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<ProgressStore.CompletionAnswer> {
        let caller = try context.user
        let lesson = try context.uuid("lessonId", of: "lesson")
        return JSONResponse(.ok, try await store.complete(lesson, by: caller.id, now: Date()))
    }

    @Sendable func uncomplete(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<ProgressStore.CompletionAnswer> {
        let caller = try context.user
        let lesson = try context.uuid("lessonId", of: "lesson")
        return JSONResponse(.ok, try await store.uncomplete(lesson, by: caller.id, now: Date()))
    }

    @Sendable func start(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<ProgressStore.StartAnswer> {
        let caller = try context.user
        let lesson = try context.uuid("lessonId", of: "lesson")
        return JSONResponse(.ok, try await store.start(lesson, by: caller.id, now: Date()))
    }
}
