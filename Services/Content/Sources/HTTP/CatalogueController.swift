import Foundation
import Hummingbird
import ServiceKit

/// What learners read: `/v1/course` (the outline, with what is open to the caller and why not),
/// `/v1/lessons/{id}` (an open lesson's body and assets) and its signed video playback.
struct CatalogueController: Sendable {
    let store: CourseStore
    let playback: MuxPlayback?

    func add(to routes: RouteGroups) {
        routes.learner.get("/v1/course", use: course)
        routes.learner.get("/v1/lessons/{id}", use: lesson)
        routes.learner.get("/v1/lessons/{id}/playback", use: play)
    }

    @Sendable func course(_ request: Request, context: ServiceRequestContext) async throws -> Response {
        let caller = try context.user
        // The outline's JSON is rendered once per revision; only the learner's part is written here.
        let body = try await store.courseJSON(for: caller.id)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    @Sendable func lesson(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<CourseStore.LessonContent> {
        let caller = try context.user
        return JSONResponse(.ok, try await store.openLesson(try context.uuid(of: "lesson"), for: caller.id))
    }

    @Sendable func play(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<MuxPlayback.Grant> {
        let caller = try context.user
        let playbackID = try await store.playbackID(of: try context.uuid(of: "lesson"), for: caller.id)
        guard let playback else {
            throw Problem(.serviceUnavailable, code: "video_unavailable", title: "Video playback is not configured (CONTENT_MUX_SIGNING_KEY_ID, CONTENT_MUX_SIGNING_KEY)")
        }
        // Tokens are made per request and never stored or cached by intermediaries.
        return JSONResponse(.ok, try await playback.grant(playbackID: playbackID, now: Date()), headers: [.cacheControl: "no-store"])
    }
}
