import Foundation
import Hummingbird
import ServiceKit

/// `/v1/content/admin/…`: admins shape the course — modules, lessons, assets, order and
/// publication — and upload lesson videos to Mux.
struct AuthoringController: Sendable {
    let store: CourseStore
    let mux: MuxClient?

    func add(to routes: RouteGroups) {
        routes.admin.get("/v1/content/admin/modules", use: listModules)
        routes.admin.post("/v1/content/admin/modules", use: createModule)
        routes.admin.put("/v1/content/admin/modules/order", use: reorderModules)
        routes.admin.get("/v1/content/admin/modules/{id}", use: showModule)
        routes.admin.patch("/v1/content/admin/modules/{id}", use: updateModule)
        routes.admin.delete("/v1/content/admin/modules/{id}", use: deleteModule)
        routes.admin.post("/v1/content/admin/modules/{id}/publish", use: publishModule)
        routes.admin.post("/v1/content/admin/modules/{id}/unpublish", use: unpublishModule)
        routes.admin.post("/v1/content/admin/modules/{id}/lessons", use: createLesson)
        routes.admin.put("/v1/content/admin/modules/{id}/lessons/order", use: reorderLessons)
        routes.admin.get("/v1/content/admin/lessons/{id}", use: showLesson)
        routes.admin.patch("/v1/content/admin/lessons/{id}", use: updateLesson)
        routes.admin.delete("/v1/content/admin/lessons/{id}", use: deleteLesson)
        routes.admin.post("/v1/content/admin/lessons/{id}/publish", use: publishLesson)
        routes.admin.post("/v1/content/admin/lessons/{id}/unpublish", use: unpublishLesson)
        routes.admin.post("/v1/content/admin/lessons/{id}/assets", use: addAsset)
        routes.admin.delete("/v1/content/admin/lessons/{id}/assets/{assetId}", use: deleteAsset)
        routes.admin.post("/v1/content/admin/lessons/{id}/video-upload", use: createUpload)
    }

    struct ModuleList: Encodable, Sendable {
        var modules: [CourseStore.Module]
    }

    // MARK: Modules

    struct ModuleInput: Decodable {
        var title: String?
        var description: String?
        var order: Int?
    }

    @Sendable func listModules(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<ModuleList> {
        return JSONResponse(.ok, ModuleList(modules: try await store.modules()))
    }

    @Sendable func createModule(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<CourseStore.Module> {
        let input = try await request.decode(as: ModuleInput.self, context: context)
        var check = InputCheck()
        let title = check.title(input.title, required: true)
        let description = check.description(input.description)
        check.order(input.order)
        try check.done()
        return JSONResponse(.created, try await store.createModule(.init(title: title!, description: description ?? "", order: input.order)))
    }

    @Sendable func showModule(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<CourseStore.Module> {
        return JSONResponse(.ok, try await store.module(try context.uuid(of: "module")))
    }

    @Sendable func updateModule(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<CourseStore.Module> {
        let id = try context.uuid(of: "module")
        let input = try await request.decode(as: ModuleInput.self, context: context)
        var check = InputCheck()
        let title = check.title(input.title, required: false)
        let description = check.description(input.description)
        if input.order != nil { check.fail("order", "read_only", "Reorder modules with PUT /v1/content/admin/modules/order.") }
        try check.done()
        return JSONResponse(.ok, try await store.updateModule(id, .init(title: title, description: description)))
    }

    @Sendable func deleteModule(_ request: Request, context: ServiceRequestContext) async throws -> Response {
        try await store.deleteModule(try context.uuid(of: "module"))
        return Response(status: .noContent)
    }

    @Sendable func publishModule(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<CourseStore.Module> {
        return JSONResponse(.ok, try await store.setModulePublished(try context.uuid(of: "module"), true))
    }

    @Sendable func unpublishModule(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<CourseStore.Module> {
        return JSONResponse(.ok, try await store.setModulePublished(try context.uuid(of: "module"), false))
    }

    struct OrderInput: Decodable {
        var ids: [String]?
    }

    func ids(_ input: OrderInput) throws -> [UUID] {
        guard let texts = input.ids, !texts.isEmpty else {
            throw DomainError.validation([FieldError(field: "ids", code: "required", message: "List every id, in the new order.")])
        }
        var errors: [FieldError] = []
        let ids = texts.enumerated().compactMap { index, text in
            let id = UUID(uuidString: text)
            if id == nil { errors.append(FieldError(field: "ids[\(index)]", code: "invalid_id", message: "Not an id.")) }
            return id
        }
        if !errors.isEmpty { throw DomainError.validation(errors) }
        return ids
    }

    @Sendable func reorderModules(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<ModuleList> {
        let ids = try ids(try await request.decode(as: OrderInput.self, context: context))
        return JSONResponse(.ok, ModuleList(modules: try await store.reorderModules(ids)))
    }

    // MARK: Lessons

    struct LessonInput: Decodable {
        var title: String?
        var body: JSONValue?
        var isFree: Bool?
        var durationSeconds: Int?
        var order: Int?
    }

    func checkLesson(_ input: LessonInput, creating: Bool) throws -> (title: String?, body: JSONValue?) {
        var check = InputCheck()
        let title = check.title(input.title, required: creating)
        if let body = input.body { check.body(body) }
        if let duration = input.durationSeconds, !(0...86_400).contains(duration) {
            check.fail("durationSeconds", "out_of_range", "durationSeconds must be from 0 to 86400.")
        }
        if creating { check.order(input.order) } else if input.order != nil {
            check.fail("order", "read_only", "Reorder lessons with PUT /v1/content/admin/modules/{id}/lessons/order.")
        }
        try check.done()
        return (title, input.body)
    }

    @Sendable func createLesson(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<CourseStore.Lesson> {
        let moduleID = try context.uuid(of: "module")
        let input = try await request.decode(as: LessonInput.self, context: context)
        let (title, body) = try checkLesson(input, creating: true)
        let lesson = try await store.createLesson(
            in: moduleID,
            .init(title: title!, body: body ?? CourseStore.emptyBody, isFree: input.isFree ?? false, durationSeconds: input.durationSeconds, order: input.order))
        return JSONResponse(.created, lesson)
    }

    @Sendable func reorderLessons(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<CourseStore.Module> {
        let moduleID = try context.uuid(of: "module")
        let ids = try ids(try await request.decode(as: OrderInput.self, context: context))
        return JSONResponse(.ok, try await store.reorderLessons(in: moduleID, ids))
    }

    @Sendable func showLesson(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<CourseStore.Lesson> {
        return JSONResponse(.ok, try await store.lesson(try context.uuid(of: "lesson")))
    }

    @Sendable func updateLesson(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<CourseStore.Lesson> {
        let id = try context.uuid(of: "lesson")
        let input = try await request.decode(as: LessonInput.self, context: context)
        let (title, body) = try checkLesson(input, creating: false)
        return JSONResponse(.ok, try await store.updateLesson(id, .init(title: title, body: body, isFree: input.isFree, durationSeconds: input.durationSeconds)))
    }

    @Sendable func deleteLesson(_ request: Request, context: ServiceRequestContext) async throws -> Response {
        try await store.deleteLesson(try context.uuid(of: "lesson"))
        return Response(status: .noContent)
    }

    @Sendable func publishLesson(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<CourseStore.Lesson> {
        return JSONResponse(.ok, try await store.setLessonPublished(try context.uuid(of: "lesson"), true))
    }

    @Sendable func unpublishLesson(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<CourseStore.Lesson> {
        return JSONResponse(.ok, try await store.setLessonPublished(try context.uuid(of: "lesson"), false))
    }

    // MARK: Assets and video

    struct AssetInput: Decodable {
        var title: String?
        var url: String?
        var type: String?
        var sizeBytes: Int64?
    }

    @Sendable func addAsset(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<CourseStore.Asset> {
        let lessonID = try context.uuid(of: "lesson")
        let input = try await request.decode(as: AssetInput.self, context: context)
        var check = InputCheck()
        let title = check.title(input.title, required: true)
        check.url(input.url)
        check.mediaType(input.type)
        if let size = input.sizeBytes {
            if !(0...10_737_418_240).contains(size) { check.fail("sizeBytes", "out_of_range", "sizeBytes must be from 0 to 10 GiB.") }
        } else {
            check.fail("sizeBytes", "required", "sizeBytes is required.")
        }
        try check.done()
        let asset = try await store.addAsset(to: lessonID, .init(title: title!, url: input.url!, type: input.type!, sizeBytes: input.sizeBytes!))
        return JSONResponse(.created, asset)
    }

    @Sendable func deleteAsset(_ request: Request, context: ServiceRequestContext) async throws -> Response {
        try await store.deleteAsset(try context.uuid("assetId", of: "asset"), of: try context.uuid(of: "lesson"))
        return Response(status: .noContent)
    }

    struct UploadAnswer: Encodable, Sendable {
        var uploadId: String
        var url: String
    }

    @Sendable func createUpload(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<UploadAnswer> {
        let lessonID = try context.uuid(of: "lesson")
        _ = try await store.lesson(lessonID)
        guard let mux else {
            throw Problem(.serviceUnavailable, code: "video_unavailable", title: "Video is not configured (CONTENT_MUX_TOKEN_ID, CONTENT_MUX_TOKEN_SECRET)")
        }
        let upload: MuxClient.Upload
        do {
            upload = try await mux.createDirectUpload(passthrough: lessonID.uuidString.lowercased())
        } catch let error as MuxClient.Failure {
            context.logger.error("mux upload failed", metadata: ["error": "\(error)"])
            throw Problem(.badGateway, code: "video_provider_error", title: "The video provider did not answer as expected")
        }
        try await store.recordUpload(upload.id, for: lessonID)
        return JSONResponse(.created, UploadAnswer(uploadId: upload.id, url: upload.url))
    }
}

/// Collects every problem of an authoring request, so one answer lists them all.
struct InputCheck {
    var errors: [FieldError] = []

    mutating func fail(_ field: String, _ code: String, _ message: String) {
        errors.append(FieldError(field: field, code: code, message: message))
    }

    func done() throws {
        if !errors.isEmpty { throw DomainError.validation(errors) }
    }

    mutating func title(_ value: String?, required: Bool) -> String? {
        guard let value else {
            if required { fail("title", "required", "title is required.") }
            return nil
        }
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        // Counted in code points, as the database counts them.
        guard (1...200).contains(trimmed.unicodeScalars.count) else {
            fail("title", "invalid_length", "title must be 1 to 200 characters.")
            return nil
        }
        return trimmed
    }

    mutating func description(_ value: String?) -> String? {
        guard let value else { return nil }
        guard value.unicodeScalars.count <= 2000 else {
            fail("description", "invalid_length", "description must be at most 2000 characters.")
            return nil
        }
        return value
    }

    mutating func order(_ value: Int?) {
        if let value, value < 1 { fail("order", "out_of_range", "order starts at 1.") }
    }

    mutating func body(_ value: JSONValue) {
        for violation in TipTapDocument.violations(of: value).prefix(50) {
            fail("body\(violation.path)", violation.code, violation.message)
        }
    }

    mutating func url(_ value: String?) {
        guard let value else { return fail("url", "required", "url is required.") }
        guard value.unicodeScalars.count <= 2048, let url = URL(string: value), ["https", "http"].contains(url.scheme?.lowercased() ?? ""), url.host?.isEmpty == false else {
            return fail("url", "invalid_url", "url must be an absolute http or https URL.")
        }
    }

    mutating func mediaType(_ value: String?) {
        guard let value else { return fail("type", "required", "type (a media type such as application/pdf) is required.") }
        let parts = value.split(separator: "/", omittingEmptySubsequences: false)
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "!#$&^_.+-"))
        guard value.unicodeScalars.count <= 100, parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.unicodeScalars.allSatisfy(allowed.contains) }) else {
            return fail("type", "invalid_media_type", "type must be a media type such as application/pdf.")
        }
    }
}
