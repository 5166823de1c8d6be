import Foundation
import Hummingbird
import ServiceKit

/// `POST /v1/analytics/events`: apps' product events, in batches. Anonymous with a `sessionId`,
/// or signed in (then the session's earlier anonymous events become the user's).
struct CollectController: Sendable {
    let collecting: Collecting
    let clientAddresses: ClientAddressResolver

    static let maximumBody = 64 * 1024

    func add(to routes: RouteGroups) {
        routes.identified.post("/v1/analytics/events", use: collect)
    }

    struct Answer: Encodable, Sendable {
        var accepted: Int
        /// New ones; a retried event (same id, same session) is accepted again but recorded once.
        var recorded: Int
        var userId: String?
    }

    @Sendable func collect(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<Answer> {
        let user = context.caller?.id
        let buffer = try await request.body.collect(upTo: Self.maximumBody)
        let batch: ClientEvents.Batch
        do {
            batch = try JSONDecoder().decode(ClientEvents.Batch.self, from: Data(buffer.readableBytesView))
        } catch {
            throw Problem.malformed("the body is not a batch of events: {\"sessionId\": …, \"events\": [ … ]}")
        }
        let address = ClientAddressResolver.throttleKey(
            clientAddresses.resolve(peer: context.remoteAddress?.ipAddress, forwardedFor: request.headers[values: .init("X-Forwarded-For")!]))
        let result = try await collecting.collect(batch, user: user, address: address, now: Date())
        return JSONResponse(.accepted, Answer(accepted: result.accepted, recorded: result.recorded, userId: user?.lowercased))
    }
}
