import Database
import Foundation
import Hummingbird
import ServiceKit

/// `POST /v1/analytics/events`: apps' product events, in batches. Anonymous with a `sessionId`,
/// or signed in (then the session's earlier anonymous events become the user's).
struct CollectController: Sendable {
    let database: DatabasePool
    let verifier: TokenVerifier
    /// Events per session and minute.
    let rateLimit: Int
    /// Events per client address and minute, whatever sessions they claim (a session id is the
    /// caller's choice; its address is not).
    let addressRateLimit: Int
    let clientAddresses: ClientAddressResolver

    static let maximumBody = 64 * 1024

    func add(to router: Router<ServiceRequestContext>) {
        router.post("/v1/analytics/events", use: collect)
    }

    struct Answer: Encodable, Sendable {
        var accepted: Int
        /// New ones; a retried event (same id, same session) is accepted again but recorded once.
        var recorded: Int
        var userId: String?
    }

    @Sendable func collect(_ request: Request, context: ServiceRequestContext) async throws -> JSONResponse<Answer> {
        let user = request.headers[.authorization] == nil ? nil : try await verifier.authenticate(request).id
        let buffer = try await request.body.collect(upTo: Self.maximumBody)
        let batch: ClientEvents.Batch
        do {
            batch = try JSONDecoder().decode(ClientEvents.Batch.self, from: Data(buffer.readableBytesView))
        } catch {
            throw Problem.malformed("the body is not a batch of events: {\"sessionId\": …, \"events\": [ … ]}")
        }
        let now = Date()
        let (session, events) = try ClientEvents.validate(batch, now: now)
        let address = ClientAddressResolver.throttleKey(
            clientAddresses.resolve(peer: context.remoteAddress?.ipAddress, forwardedFor: request.headers[values: .init("X-Forwarded-For")!]))
        let (limit, addressLimit) = (rateLimit, addressRateLimit)
        let recorded = try await database.transaction { connection -> Int in
            // Both counters move in this transaction: a refused batch counts against neither.
            let used = try connection.query(
                """
                WITH by_session AS (
                    INSERT INTO session_rates (session_id, window_start, count) VALUES (\(session), date_trunc('minute', \(now)::timestamptz), \(events.count))
                    ON CONFLICT (session_id, window_start) DO UPDATE SET count = session_rates.count + excluded.count
                    RETURNING count
                ), by_address AS (
                    INSERT INTO address_rates (address, window_start, count) VALUES (\(address), date_trunc('minute', \(now)::timestamptz), \(events.count))
                    ON CONFLICT (address, window_start) DO UPDATE SET count = address_rates.count + excluded.count
                    RETURNING count
                )
                SELECT (SELECT count FROM by_session) AS session, (SELECT count FROM by_address) AS address
                """
            ).first!
            let retryAfter: HTTPFields = [.retryAfter: String(60 - Int(now.timeIntervalSince1970) % 60)]
            guard try used.decode("session", as: Int.self) <= limit else {
                throw Problem(.tooManyRequests, code: "rate_limited", title: "Too many events from this session; send fewer, later", headers: retryAfter)
            }
            guard try used.decode("address", as: Int.self) <= addressLimit else {
                throw Problem(.tooManyRequests, code: "rate_limited", title: "Too many events from this address; send fewer, later", headers: retryAfter)
            }
            var recorded = 0
            for event in events {
                let new = try EventStore.record(
                    event.event, user: user, session: session, properties: event.properties, source: "client",
                    sourceID: "client:\(session):\(event.id)", at: event.time, on: connection)
                if new { recorded += 1 }
            }
            if let user { try EventStore.stitch(session: session, to: user, on: connection) }
            return recorded
        }
        return JSONResponse(.accepted, Answer(accepted: events.count, recorded: recorded, userId: user?.lowercased))
    }
}
