import Foundation
import Hummingbird
import ServiceKit

/// `POST /v1/content/webhooks/mux`: Mux's asset events, signature-checked on the raw body like
/// Stripe's (`Mux-Signature: t=…,v1=…`), each delivery handled once.
struct MuxWebhookController: Sendable {
    let store: CourseStore
    let secret: String?

    static let maximumBody = 256 * 1024

    func add(to routes: RouteGroups) {
        routes.open.post("/v1/content/webhooks/mux", use: receive)
    }

    struct Answer: Encodable, Sendable {
        var received: Bool
        var outcome: String
    }

    @Sendable func receive(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<Answer> {
        guard let secret else {
            throw Problem(.serviceUnavailable, code: "video_unavailable", title: "Mux webhooks are not configured (CONTENT_MUX_WEBHOOK_SECRET)")
        }
        let buffer = try await request.body.collect(upTo: Self.maximumBody)
        let body = Array(buffer.readableBytesView)
        if let failure = WebhookSignature.verify(header: request.headers[.init("Mux-Signature")!], body: body, secret: secret, now: Date()) {
            context.logger.warning("mux webhook refused", metadata: ["reason": "\(failure)"])
            throw failure.problem(header: "Mux-Signature")
        }
        guard let json = try? JSONValue(parsing: Data(body)) else { throw Problem.malformed("the body is not JSON") }
        let outcome = try await store.handleMuxEvent(json, now: Date())
        context.logger.info("mux webhook", metadata: ["event": "\(json["id"].string ?? "")", "type": "\(json["type"].string ?? "")", "outcome": "\(outcome.rawValue)"])
        return JSONResponse(.ok, Answer(received: true, outcome: outcome.rawValue))
    }
}
