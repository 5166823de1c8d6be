import Foundation
import Hummingbird
import ServiceKit

/// `/v1/progress…`: a learner's own progress — the summary, and starting, completing and undoing
/// lessons.
struct ProgressController: Sendable {
    let store: ProgressStore
    let verifier: TokenVerifier

    func add(to router: Router<BasicRequestContext>) {
        router.get("/v1/progress", use: summary)
        router.put("/v1/progress/lessons/{lessonId}", use: complete)
        router.delete("/v1/progress/lessons/{lessonId}", use: uncomplete)
        router.post("/v1/progress/lessons/{lessonId}/start", use: start)
        router.put("/v1/progress/tasks/{taskId}", use: setTask)
        router.get("/v1/progress/plans/{planId}", use: plan)
    }

    struct TaskInput: Decodable {
        var status: String?
    }

    @Sendable func setTask(_ request: Request, context: BasicRequestContext) async throws -> JSONResponse<ProgressStore.TaskAnswer> {
        let caller = try await verifier.authenticate(request)
        let task = try context.uuid("taskId", of: "task")
        let input = try await request.decode(as: TaskInput.self, context: context)
        guard let status = input.status.flatMap(ProgressStore.TaskStatus.init(rawValue:)) else {
            throw Problem.validation([FieldError(field: "status", code: "invalid_choice", message: "One of: not_started, in_progress, completed.")])
        }
        return JSONResponse(.ok, try await store.setTask(task, to: status, by: caller.id))
    }

    @Sendable func plan(_ request: Request, context: BasicRequestContext) async throws -> JSONResponse<ProgressStore.PlanSummary> {
        let caller = try await verifier.authenticate(request)
        return JSONResponse(.ok, try await store.plan(try context.uuid("planId", of: "plan"), of: caller.id))
    }

    @Sendable func summary(_ request: Request, context: BasicRequestContext) async throws -> JSONResponse<ProgressStore.Summary> {
        let caller = try await verifier.authenticate(request)
        return JSONResponse(.ok, try await store.summary(of: caller.id))
    }

    @Sendable func complete(_ request: Request, context: BasicRequestContext) async throws -> JSONResponse<ProgressStore.CompletionAnswer> {
        let caller = try await verifier.authenticate(request)
        let lesson = try context.uuid("lessonId", of: "lesson")
        return JSONResponse(.ok, try await store.complete(lesson, by: caller.id, now: Date()))
    }

    @Sendable func uncomplete(_ request: Request, context: BasicRequestContext) async throws -> JSONResponse<ProgressStore.CompletionAnswer> {
        let caller = try await verifier.authenticate(request)
        let lesson = try context.uuid("lessonId", of: "lesson")
        return JSONResponse(.ok, try await store.uncomplete(lesson, by: caller.id, now: Date()))
    }

    @Sendable func start(_ request: Request, context: BasicRequestContext) async throws -> JSONResponse<ProgressStore.StartAnswer> {
        let caller = try await verifier.authenticate(request)
        let lesson = try context.uuid("lessonId", of: "lesson")
        return JSONResponse(.ok, try await store.start(lesson, by: caller.id, now: Date()))
    }
}
