import Database
import Foundation
import Hummingbird
import ServiceKit

/// `/v1/notifications/unsubscribe`: the link in every marketing mail. POST is RFC 8058's one-click
/// unsubscribe (what mail clients send for `List-Unsubscribe-Post`), applied at once and published
/// as `notifications.consent.changed.v1`; GET shows a page with the button, and changes nothing,
/// since mail scanners open links.
struct UnsubscribeController: Sendable {
    let database: DatabasePool
    let links: UnsubscribeLinks

    func add(to routes: RouteGroups) {
        routes.open.get("/v1/notifications/unsubscribe", use: page)
        routes.open.post("/v1/notifications/unsubscribe", use: unsubscribe)
    }

    func signedUser(_ request: Request) throws -> UUID {
        let parameters = request.uri.queryParameters
        guard let text = parameters.get("user"), let user = UUID(uuidString: text), let token = parameters.get("token"),
            links.verify(token, for: user)
        else {
            throw Problem(.forbidden, code: "invalid_link", title: "This unsubscribe link is not valid")
        }
        return user
    }

    @Sendable func page(_ request: Request, context: ServiceRequestContext) async throws -> Response {
        _ = try signedUser(request)
        let action = "/v1/notifications/unsubscribe?\(request.uri.query ?? "")".replacingOccurrences(of: "&", with: "&amp;")
            .replacingOccurrences(of: "\"", with: "&quot;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        let html = """
            <!doctype html>
            <html><head><meta charset="utf-8"><title>Unsubscribe</title></head>
            <body style="font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; max-width: 480px; margin: 48px auto;">
            <h1 style="font-size: 22px;">Stop marketing mail?</h1>
            <p>You will still get mail about your account and payments.</p>
            <form method="post" action="\(action)"><input type="hidden" name="List-Unsubscribe" value="One-Click">
            <button type="submit">Unsubscribe</button></form>
            </body></html>
            """
        return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    struct Answer: Encodable, Sendable {
        var userId: String
        var marketingOptOut: Bool
    }

    @Sendable func unsubscribe(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<Answer> {
        let user = try signedUser(request)
        try await Consent.optOut(user, now: Date(), in: database)
        return JSONResponse(.ok, Answer(userId: user.lowercased, marketingOptOut: true))
    }
}
