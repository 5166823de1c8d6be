import Contracts
import Database
import Foundation
import Hummingbird
import ServiceKit

/// `/v1/plans…`: a learner's learning plans — create (or create and stream), read, archive,
/// retry, delete, and the record of generation attempts.
struct PlansController: Sendable {
    let store: PlanStore
    let signals: PlanSignals
    /// The open streams, within their limits.
    let streams: PlanStreamGate
    /// Where learners' calendar apps reach this service (feed URLs are built on it).
    let publicURL: String

    func add(to routes: RouteGroups) {
        routes.learner.post("/v1/plans", use: create)
        routes.learner.get("/v1/plans", use: list)
        routes.learner.post("/v1/plans/stream", use: createAndStream)
        routes.learner.get("/v1/plans/{id}", use: show)
        routes.learner.delete("/v1/plans/{id}", use: delete)
        routes.learner.get("/v1/plans/{id}/stream", use: follow)
        routes.learner.post("/v1/plans/{id}/archive", use: archive)
        routes.learner.post("/v1/plans/{id}/retry", use: retry)
        routes.learner.post("/v1/plans/{id}/regenerate", use: regenerate)
        routes.learner.get("/v1/plans/{id}/attempts", use: attempts)
        routes.learner.get("/v1/plans/{id}/schedule", use: schedule)
        routes.learner.post("/v1/plans/{id}/calendar-feed", use: createFeed)
        routes.learner.delete("/v1/plans/{id}/calendar-feed", use: revokeFeed)
        // Calendar apps send no bearer token: the URL's secret is the key.
        routes.open.get("/v1/calendar-feeds/{token}", use: feed)
    }

    struct Input: Decodable {
        var topic: String?
        var skillLevel: String?
        var weeklyHours: Int?
        var learningStyle: String?
        var notes: String?
        var startDate: String?
        var deadlineDate: String?
    }

    /// A calendar date written YYYY-MM-DD that exists (no 30 February), from 2000 to 2100.
    static func date(_ text: String?) -> Date? {
        guard let text, text.count == 10, let parsed = RFC3339.parse("\(text)T00:00:00Z"), String(RFC3339.format(parsed).prefix(10)) == text,
            let year = Int(text.prefix(4)), (2000...2100).contains(year)
        else { return nil }
        return parsed
    }

    /// The request, or a 422 naming every problem (PRODUCT.md's limits).
    static func check(_ input: Input) throws -> PlanRequest {
        var errors: [FieldError] = []
        let topic = input.topic?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        if !(1...200).contains(topic.unicodeScalars.count) { errors.append(FieldError(field: "topic", code: "invalid_length", message: "1 to 200 characters.")) }
        let choices = checkChoices(skillLevel: input.skillLevel, weeklyHours: input.weeklyHours, learningStyle: input.learningStyle, notes: input.notes, required: true, into: &errors)
        let start = date(input.startDate), deadline = date(input.deadlineDate)
        if input.startDate != nil, start == nil { errors.append(FieldError(field: "startDate", code: "invalid_date", message: "A date such as 2026-12-01.")) }
        if input.deadlineDate != nil, deadline == nil { errors.append(FieldError(field: "deadlineDate", code: "invalid_date", message: "A date such as 2027-03-01.")) }
        if let start, let deadline, deadline <= start { errors.append(FieldError(field: "deadlineDate", code: "before_start", message: "After the start date.")) }
        guard errors.isEmpty, let level = choices.skillLevel, let style = choices.learningStyle, let hours = choices.weeklyHours else { throw DomainError.validation(errors) }
        return PlanRequest(
            topic: topic, skillLevel: level, weeklyHours: hours, learningStyle: style, notes: input.notes, startDate: input.startDate, deadlineDate: input.deadlineDate)
    }

    /// The choices a plan is made with, checked alike when it is created (all `required`) and
    /// when it is regenerated (each optional, a missing one left as it was).
    static func checkChoices(
        skillLevel: String?, weeklyHours: Int?, learningStyle: String?, notes: String?, required: Bool, into errors: inout [FieldError]
    ) -> PlanStore.Changes {
        let level = skillLevel.flatMap(PlanRequest.SkillLevel.init(rawValue:))
        if level == nil, required || skillLevel != nil { errors.append(FieldError(field: "skillLevel", code: "invalid_choice", message: "One of: beginner, intermediate, advanced.")) }
        let style = learningStyle.flatMap(PlanRequest.LearningStyle.init(rawValue:))
        if style == nil, required || learningStyle != nil { errors.append(FieldError(field: "learningStyle", code: "invalid_choice", message: "One of: reading, video, practice, mixed.")) }
        if !(1...80).contains(weeklyHours ?? 0), required || weeklyHours != nil { errors.append(FieldError(field: "weeklyHours", code: "out_of_range", message: "1 to 80 hours a week.")) }
        if let notes, notes.unicodeScalars.count > 2000 { errors.append(FieldError(field: "notes", code: "invalid_length", message: "At most 2000 characters.")) }
        return PlanStore.Changes(skillLevel: level, weeklyHours: weeklyHours, learningStyle: style, notes: notes)
    }

    struct PlanList: Encodable, Sendable {
        var plans: [PlanStore.Plan]
    }

    @Sendable func create(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<PlanStore.Plan> {
        let caller = try context.user
        let input = try Self.check(try await request.decode(as: Input.self, context: context))
        return JSONResponse(.created, try await store.create(input, by: caller.id, now: Date()))
    }

    @Sendable func list(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<PlanList> {
        let caller = try context.user
        return JSONResponse(.ok, PlanList(plans: try await store.list(of: caller.id)))
    }

    @Sendable func show(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<PlanStore.Plan> {
        let caller = try context.user
        return JSONResponse(.ok, try await store.plan(try context.uuid(of: "plan"), of: caller.id))
    }

    @Sendable func delete(_ request: Request, context: ServiceRequestContext) async throws -> Response {
        let caller = try context.user
        try await store.delete(try context.uuid(of: "plan"), of: caller.id, now: Date())
        return Response(status: .noContent)
    }

    @Sendable func archive(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<PlanStore.Plan> {
        let caller = try context.user
        return JSONResponse(.ok, try await store.archive(try context.uuid(of: "plan"), of: caller.id, now: Date()))
    }

    @Sendable func retry(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<PlanStore.Plan> {
        let caller = try context.user
        return JSONResponse(.accepted, try await store.retry(try context.uuid(of: "plan"), of: caller.id, now: Date()))
    }

    struct ChangesInput: Decodable {
        var skillLevel: String?
        var weeklyHours: Int?
        var learningStyle: String?
        var notes: String?
    }

    @Sendable func regenerate(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<PlanStore.Plan> {
        let caller = try context.user
        let id = try context.uuid(of: "plan")
        // Every field is optional, and so is the body: an empty one changes nothing.
        let input = try await request.decodeIfPresent(as: ChangesInput.self, context: context) ?? ChangesInput()
        var errors: [FieldError] = []
        let changes = Self.checkChoices(
            skillLevel: input.skillLevel, weeklyHours: input.weeklyHours, learningStyle: input.learningStyle, notes: input.notes, required: false, into: &errors)
        guard errors.isEmpty else { throw DomainError.validation(errors) }
        return JSONResponse(.accepted, try await store.regenerate(id, with: changes, by: caller.id, now: Date()))
    }

    struct AttemptList: Encodable, Sendable {
        var attempts: [PlanStore.Attempt]
    }

    @Sendable func attempts(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<AttemptList> {
        let caller = try context.user
        return JSONResponse(.ok, AttemptList(attempts: try await store.attempts(try context.uuid(of: "plan"), of: caller.id)))
    }

    // MARK: Schedule and calendar feed

    @Sendable func schedule(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<PlanSchedule> {
        let caller = try context.user
        return JSONResponse(.ok, try await store.schedule(try context.uuid(of: "plan"), of: caller.id))
    }

    struct Feed: Encodable, Sendable {
        /// The secret URL to subscribe to; shown once. Creating a new one revokes this one.
        var url: String
    }

    @Sendable func createFeed(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<Feed> {
        let caller = try context.user
        let token = try await store.createFeed(try context.uuid(of: "plan"), of: caller.id)
        return JSONResponse(.created, Feed(url: "\(publicURL)/v1/calendar-feeds/\(token).ics"))
    }

    @Sendable func revokeFeed(_ request: Request, context: ServiceRequestContext) async throws -> Response {
        let caller = try context.user
        try await store.revokeFeed(try context.uuid(of: "plan"), of: caller.id)
        return Response(status: .noContent)
    }

    /// The feed itself: no bearer token (calendar apps send none); the URL's secret is the key.
    @Sendable func feed(_ request: Request, context: ServiceRequestContext) async throws -> Response {
        var token = context.parameters.get("token") ?? ""
        if token.hasSuffix(".ics") { token.removeLast(4) }
        guard let text = try await store.feed(token: token, now: Date()) else { throw DomainError.notFound("calendar feed") }
        return Response(
            status: .ok, headers: [.contentType: "text/calendar; charset=utf-8", .cacheControl: "private, max-age=300"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    // MARK: Streaming

    /// The stream's place is taken before the plan is made: a learner over the stream limit
    /// spends no generation.
    @Sendable func createAndStream(_ request: Request, context: ServiceRequestContext) async throws -> Response {
        let caller = try context.user
        let input = try Self.check(try await request.decode(as: Input.self, context: context))
        let slot = try streams.enter(caller.id)
        let plan = try await store.create(input, by: caller.id, now: Date())
        return stream(plan, of: caller.id, holding: slot)
    }

    @Sendable func follow(_ request: Request, context: ServiceRequestContext) async throws -> Response {
        let caller = try context.user
        let id = try context.uuid(of: "plan")
        let slot = try streams.enter(caller.id)
        return stream(try await store.plan(id, of: caller.id), of: caller.id, holding: slot)
    }

    static func frame(_ event: String, _ value: some Encodable) -> ByteBuffer {
        let data = (try? JSONResponse<Int>.encoder.encode(value)) ?? Data("{}".utf8)
        return ByteBuffer(string: "event: \(event)\ndata: \(String(decoding: data, as: UTF8.self))\n\n")
    }

    struct Start: Encodable { var planId: String; var topic: String }
    struct ModuleSummary: Encodable { var order: Int; var title: String; var taskCount: Int; var estimatedMinutes: Int }
    struct Progress: Encodable { var modulesDone: Int; var moduleCount: Int }
    struct Complete: Encodable { var planId: String; var moduleCount: Int; var taskCount: Int; var durationMs: Int }
    struct Failure: Encodable { var planId: String; var classification: String; var retryable: Bool }

    /// Server-sent events following a plan's generation, wherever its job runs: the worker
    /// signals each change (NOTIFY with the plan's id), and the stream reads the plan's status
    /// again. The stream watches before it reads, so a change committed after its read is always
    /// signalled to it, and one committed before is in what it read: no signal is missed and no
    /// timer is needed. A client that goes away stops only its stream, never the job. `slot` is
    /// given back when the stream ends.
    func stream(_ first: PlanStore.Plan, of user: UUID, holding slot: PlanStreamSlot) -> Response {
        let store = self.store
        let signals = self.signals
        let started = ContinuousClock.now
        let id = UUID(uuidString: first.id)!
        return Response(
            status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"],
            body: ResponseBody { writer in
                defer { slot.release() }
                let wake = signals.watch(first.id)
                defer { signals.stop(watching: first.id, wake) }
                try await writer.write(Self.frame("plan_start", Start(planId: first.id, topic: first.topic)))
                let deadline = ContinuousClock.now.advanced(by: .seconds(300))
                // Read after watching: `first` was read before, and a move since may have been signalled to nobody.
                var status = try await store.status(of: id, for: user)
                while status == "generating" {
                    let left = deadline - ContinuousClock.now
                    guard left > .zero else { break }
                    await wake.wait(timeout: left)
                    status = try await store.status(of: id, for: user)
                }
                let plan = try await store.plan(id, of: user)
                if plan.generationStatus == "ready", let modules = plan.modules {
                    for (index, module) in modules.enumerated() {
                        try await writer.write(Self.frame(
                            "module_summary",
                            ModuleSummary(order: module.order, title: module.title, taskCount: module.tasks.count, estimatedMinutes: module.estimatedMinutes)))
                        try await writer.write(Self.frame("progress", Progress(modulesDone: index + 1, moduleCount: modules.count)))
                    }
                    let elapsed = ContinuousClock.now - started
                    try await writer.write(Self.frame(
                        "complete",
                        Complete(
                            planId: plan.id, moduleCount: modules.count, taskCount: modules.reduce(0) { $0 + $1.tasks.count },
                            durationMs: elapsed.milliseconds)))
                } else {
                    let last = try await store.attempts(id, of: user).last
                    let classification = last?.classification ?? (plan.generationStatus == "generating" ? "timeout" : "provider_error")
                    try await writer.write(Self.frame(
                        "error", Failure(planId: plan.id, classification: classification, retryable: plan.generationStatus == "generating")))
                }
                try await writer.finish(nil)
            })
    }
}
