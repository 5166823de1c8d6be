import Foundation
import Hummingbird
import Logging
import ServiceKit

/// `POST /v1/billing/webhooks/stripe`: the signature is checked on the raw body before anything is
/// parsed; each event id is processed once; problems are answered as Stripe expects (4xx for a
/// signature it should not retry as is, 200 for what is understood but not acted on).
struct WebhookController: Sendable {
    let payments: Payments
    let secret: String
    let livemode: Bool

    static let maximumBody = 256 * 1024

    func add(to routes: RouteGroups) {
        routes.open.post("/v1/billing/webhooks/stripe", use: receive)
    }

    struct Answer: Encodable, Sendable {
        var received: Bool
        var outcome: String
    }

    @Sendable func receive(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<Answer> {
        let buffer = try await request.body.collect(upTo: Self.maximumBody)
        let body = Array(buffer.readableBytesView)
        if let failure = WebhookSignature.verify(header: request.headers[.init("Stripe-Signature")!], body: body, secret: secret, now: Date()) {
            context.logger.warning("stripe webhook refused", metadata: ["reason": "\(failure)"])
            throw failure.problem(header: "Stripe-Signature")
        }
        let event: StripeEvent
        do {
            event = try StripeEvent(json: try JSONValue(parsing: Data(body)))
        } catch {
            context.logger.warning("stripe webhook is not an event", metadata: ["error": "\(error)"])
            throw Problem.malformed("the body is not a Stripe event")
        }
        guard event.livemode == livemode else {
            context.logger.warning("stripe webhook of the wrong mode", metadata: ["event": "\(event.id)", "livemode": "\(event.livemode)"])
            throw Problem(.badRequest, code: "livemode_mismatch", title: "This endpoint takes \(livemode ? "live" : "test")-mode events only")
        }
        let outcome = try await payments.receive(event, payload: String(decoding: body, as: UTF8.self), now: Date(), logger: context.logger)
        context.logger.info("stripe webhook", metadata: ["event": "\(event.id)", "type": "\(event.type)", "outcome": "\(outcome.rawValue)"])
        return JSONResponse(.ok, Answer(received: true, outcome: outcome.rawValue))
    }
}
